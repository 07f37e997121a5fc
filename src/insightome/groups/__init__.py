"""Groups of patients and what may be published about them.

* :mod:`insightome.groups.labels` — the groups of each sensitive attribute and their
  intersections (``group_labels``);
* :mod:`insightome.groups.disclosure` — the one small-cell rule (``--min-cell``): counts
  below it, and counts that would give them back, are hidden in every published table;
* :mod:`insightome.groups.complementary_suppression` — the linear programmes that choose
  which further counts to hide across linked tables.

Below both the audit and discovery (its subgroups and hypotheses), which publish counts of
groups; it reads only the study.
"""
