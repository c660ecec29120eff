"""Intelligence sharing: a scan's campaigns as STIX 2.1 for partners (``distillguard intel``)."""
