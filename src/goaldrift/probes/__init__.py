"""Behavioural objective attribution: which objective does a frozen policy serve?

A probe suite puts a policy in situations where the candidate objectives (the world's
concepts: intended, proxy, register, its tamper concept) prescribe different choices, and
scores each objective between a uniformly random policy (0) and that objective's best policy
(1), with bootstrap intervals (``score``). Register QA's suite is exact (``qa``); the
gridworlds' watch the policy act (``grid``); ``policy`` judges any Gymnasium policy, a
Stable-Baselines3 model among them, on the same suites.
"""
