"""A run as a sequence of stages: read → study → screen → plan → select → estimate →
(learn →) refit → discover → audit → document → write (listed in
:data:`insightome.workflow.STAGES`).

* :mod:`~insightome.stages.state` — :class:`RunState`, what the stages read and extend;
* :mod:`~insightome.stages.registry` — :class:`Stage` and :func:`arrange` (plugging in,
  skipping by name);
* :mod:`~insightome.stages.runner` — :func:`run_stages`: timing each stage with the energy
  ledger, checkpointing its output, restoring a resumed run up to a named stage;
* the stage functions: :mod:`~insightome.stages.reading` (read, and :class:`Featurizer`),
  :mod:`~insightome.stages.modelling` (study, plan, select, estimate, refit),
  :mod:`~insightome.stages.screening` (screen: the leakage screen),
  :mod:`~insightome.stages.learning` (learn: the learning curve, ``--learning-curve``),
  :mod:`~insightome.stages.findings` (discover, audit), :mod:`~insightome.stages.output`
  (document, write).
"""

from insightome.stages.reading import Featurizer
from insightome.stages.registry import Stage, arrange
from insightome.stages.runner import run_stages
from insightome.stages.state import RunState

__all__ = ["Featurizer", "RunState", "Stage", "arrange", "run_stages"]
