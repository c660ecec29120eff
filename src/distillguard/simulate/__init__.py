"""Labelled traffic for testing the detector: legitimate populations and distillation campaigns.

A scenario (YAML, ``simulate/scenarios/``) names populations and campaigns with their knobs;
``plan`` turns it into accounts with behaviours, ``emit`` writes their events day by day in the
log contract, and ground truth goes to ``labels.csv`` beside them, never into the events.
"""
