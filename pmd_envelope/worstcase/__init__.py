"""Worst case of each performance metric over the manufacturing variables (issue 4).

- :mod:`.space`: a metric as a vectorised function of its dimensions (variables, or design
  parameters for the envelope self-check), column-wise;
- :mod:`.search`: exhaustive corners in blocks, the monotonicity check, bounded multi-start
  refinement with a dense-sample check, and monotone directions for many variables;
- :mod:`.montecarlo`: seeded Monte Carlo probability with a Clopper-Pearson interval, and
  one-at-a-time sensitivities;
- :mod:`.metric`: the per-design worst case with coverage by the tested construct;
- :mod:`.selfcheck`: the envelope's own worst case against its tested construct.
"""

from pmd_envelope.worstcase.metric import Coverage, WorstCase, construct_value, evaluate_metric, worst_case, worst_cases
from pmd_envelope.worstcase.montecarlo import MonteCarlo, Sensitivities, clopper_pearson, monte_carlo, sensitivities
from pmd_envelope.worstcase.selfcheck import EnvelopeWorstCase, envelope_worst_case, envelope_worst_cases
from pmd_envelope.worstcase.search import Monotonicity, Refinement, SearchResult, check_monotonicity, search
from pmd_envelope.worstcase.space import Dimension, SearchSpace, build_search_space

__all__ = ["WorstCase", "Coverage", "worst_case", "worst_cases", "construct_value", "evaluate_metric",
           "MonteCarlo", "Sensitivities", "clopper_pearson", "monte_carlo", "sensitivities", "Monotonicity",
           "Refinement", "SearchResult", "check_monotonicity", "search", "Dimension", "SearchSpace", "build_search_space",
           "EnvelopeWorstCase", "envelope_worst_case", "envelope_worst_cases"]
