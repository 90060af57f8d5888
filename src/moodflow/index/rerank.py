"""Re-ranking of index candidates by co-occurrence with a listening history.

Item co-occurrence is a strong signal for what follows a set of tracks, and
the space's vectors are a smoothed version of it. The combined score of a
candidate j for a history H is

    score(j) = cos(u_H, v_j) + weight · log(1 + s_j) / log(1 + max_k s_k)

where u_H is the user vector, s_j = Σ_{q in H} w_q · c_qj is the history's
co-occurrence with j, and the maximum runs over the candidates, so the second
term lies in [0, weight].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CooccurrenceRerank:
    """Settings of the co-occurrence re-ranking in `TrackIndex.search_history`.

    - `candidates`: number of nearest tracks taken from the index.
    - `weight`: weight of the normalised co-occurrence term. Of 0.5, 1, 2
      and 3, weights 2 and 3 tied best on Art of the Mix continuation.
    - `include_partners`: also score the history's co-occurrence partners
      that the index did not return.
    - `normalise`: use the cosine c_qj / sqrt(c_q · c_j) in place of the
      raw count c_qj in s_j.
    """

    candidates: int = 200
    weight: float = 2.0
    include_partners: bool = True
    normalise: bool = False
