"""Math shared by the policy-gradient algorithms: Monte Carlo returns, the natural step, the critic fit."""
