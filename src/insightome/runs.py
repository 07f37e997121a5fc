"""The old path of :class:`~insightome.run_directory.Run`, kept for pickles.

A stage checkpoint (``<run>.partial/stages/document.pickle``) written before the module was
renamed names the class ``insightome.runs.Run``; resuming it needs that path. New code imports
:mod:`insightome.run_directory`.
"""

from insightome.run_directory import Run

__all__ = ["Run"]
