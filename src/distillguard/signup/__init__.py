"""Risk at sign-up: a new account's record against the farms already found, before it is served.

``index.py`` reads the indicators of the latest scan's campaigns (``campaigns.json``: payment
methods, e-mail domains, addresses and /24s, clients); ``bursts.py`` counts the sign-ups still
arriving that share a value; ``risk.py`` turns both into a risk, an action (allow, verify,
refuse) and reasons. The gateway answers it at ``POST /admin/v1/signup-risk`` and logs each
answer as an account record the next scan reads.
"""
