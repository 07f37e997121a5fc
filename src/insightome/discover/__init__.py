"""Discovery: from a fitted study to ranked, evidence-backed (and unvalidated) hypotheses.

Stable signatures (``stability``, ``signature``), univariate effects (``effects``), held-out
attributions (``attribution``), pathway enrichment (``pathways``), patient subgroups
(``subgroups``) and the ranked hypotheses table (``hypotheses``).
"""
