"""Progress of a fit as Python sees it: lines on ``sys.stderr``, or a tqdm bar.

The Rust solver runs with the GIL released and takes it briefly once per report to call
:class:`ProgressReporter` with one dict (``event``: ``"setup"``, ``"path"``, ``"pricing"``,
``"beta_chosen"`` or ``"iter"``; see ``src/progress.rs``). Writing through ``sys.stderr``
(looked up at each write) rather than file descriptor 2 is what makes the output visible in a
notebook, or in ``contextlib.redirect_stderr``.

ETA of a solve: the smallest of three bounds, each when known: the iterations left to ``max_iter`` at the
mean time per iteration so far; the time left to ``time_limit``; and the iterations the
certified gap still needs to reach ``tol_gap``, from its recent log-linear decrease. ETA of
the beta path: the points left at the mean time per point so far (an upper bound: the path
stops early once the validation metric stops improving).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

#: with verbose=1 and no tqdm, one iteration line per this many seconds (plus the first and last)
LINE_INTERVAL_S = 1.0


def _tqdm():
    """tqdm's auto class (a widget in notebooks, text elsewhere), or None when not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _fmt_seconds(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "?"
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f}s" if s >= 10 else f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Eta:
    """Estimates the seconds left of one solve from its certificates (see the module doc)."""

    def __init__(self, max_iter: int, tol_gap: float, time_limit: Optional[float]) -> None:
        self.max_iter = max_iter
        self.tol_gap = tol_gap
        self.time_limit = time_limit
        self.history: List[Tuple[int, float, float]] = []  # (iteration, seconds, relative gap)

    def add(self, iteration: int, seconds: float, gap: float) -> None:
        self.history.append((iteration, seconds, gap))

    def seconds_left(self) -> Optional[float]:
        if not self.history:
            return None
        it, sec, gap = self.history[-1]
        if it <= 0:
            return None
        per_iter = sec / it
        bounds = [max(0, self.max_iter - it) * per_iter]
        if self.time_limit is not None:
            bounds.append(max(0.0, self.time_limit - sec))
        rate = self._gap_rate()
        if rate is not None and gap > 0 and math.isfinite(gap):
            if gap <= self.tol_gap:
                bounds.append(0.0)
            else:
                bounds.append(math.log(gap / self.tol_gap) / rate * per_iter)
        return min(bounds)

    def _gap_rate(self) -> Optional[float]:
        """Decrease of log(gap) per iteration over the last half of the certificates (None
        while the gap is not finite, positive and falling)."""
        pts = [(i, g) for i, _, g in self.history if g > 0 and math.isfinite(g)]
        if len(pts) < 2:
            return None
        (i0, g0), (i1, g1) = pts[(len(pts) - 1) // 2], pts[-1]
        if i1 <= i0 or not g1 < g0:
            return None
        return (math.log(g0) - math.log(g1)) / (i1 - i0)

    def fraction_done(self) -> float:
        """Elapsed / (elapsed + left), in [0, 1]."""
        if not self.history:
            return 0.0
        sec = self.history[-1][1]
        left = self.seconds_left()
        if left is None or sec + left <= 0:
            return 0.0
        return min(1.0, sec / (sec + left))


class ProgressReporter:
    """Receives the solver's progress events and shows them.

    ``verbose=1``: a tqdm bar on ``sys.stderr`` when tqdm is installed (``use_tqdm=None``: auto),
    else ``cronos:`` lines (one per second at most, and the last); the β path and the final
    status always as lines. ``verbose>=2``: a line at every certificate, with the objective,
    bound and residuals. Call :meth:`close` when the fit has returned.
    """

    def __init__(self, max_iter: int, tol_gap: float, time_limit: Optional[float] = None, verbose: int = 1,
                 use_tqdm: Optional[bool] = None) -> None:
        self.eta = Eta(int(max_iter), float(tol_gap), time_limit)
        self.verbose = int(verbose)
        tqdm = _tqdm() if use_tqdm in (None, True) and self.verbose == 1 else None
        if use_tqdm and tqdm is None:
            raise ImportError("use_tqdm=True but tqdm is not installed")
        self._tqdm_cls = tqdm
        self._bar: Any = None
        self._last_line: Optional[float] = None
        self._path_seconds = 0.0

    # -- output ------------------------------------------------------------------------------
    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            sys.stderr.write(line + "\n")
            flush = getattr(sys.stderr, "flush", None)
            if flush is not None:
                flush()

    def __call__(self, event: Dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "iter":
            self._iteration(event)
        elif kind == "path":
            self._path_seconds += float(event["seconds"])
            done = int(event["index"]) + 1
            # an upper bound: the path stops early once the validation metric stops improving
            left = (int(event["points"]) - done) * self._path_seconds / done
            self._write(
                f"cronos: path {done}/{event['points']}  beta/beta_max {event['fraction']:.2e}  "
                f"gap {event['relative_gap']:.1e}  active {event['active_neurons']}  its {event['iterations']}  "
                f"train {event['train_metric']:.4f}  validation {_num(event['validation_metric'], '.4f')}  "
                f"{event['seconds']:.2f}s  path ETA <= {_fmt_seconds(left)}"
            )
        elif kind == "beta_chosen":
            self._write(f"cronos: chose beta/beta_max = {event['fraction']:.2e} in {event['seconds']:.2f}s; refitting on all rows")
        elif kind == "setup":
            warm = ", warm start" if event.get("warm_started") else ""
            self._write(f"cronos: setup {event['seconds']:.2f}s, {event['n_patterns']} patterns{warm}")
        elif kind == "pricing":
            back = "  (undone: back to the patterns before it)" if event.get("undone") else "  (returned to the warm start)" if event.get("reverted") else ""
            self._write(
                f"cronos: pricing round {event['round']}  +{event['added']} -{event['dropped']}  "
                f"patterns {event['patterns']}  max violation {event['max_violation']:.3f}  "
                f"objective {event['objective']:.6e}  gap {event['relative_gap']:.1e}  "
                f"active {event['active_neurons']}  train {event['train_metric']:.4f}  {event['seconds']:.2f}s{back}"
            )

    def _iteration(self, e: Dict[str, Any]) -> None:
        self.eta.add(int(e["iteration"]), float(e["seconds"]), float(e["relative_gap"]))
        left = _fmt_seconds(self.eta.seconds_left())
        if self._tqdm_cls is not None:
            self._update_bar(e, left)
            return
        if self.verbose >= 2:
            self._write(
                f"cronos: iter {e['iteration']:>5}/{self.eta.max_iter}  obj {e['objective']:.6e}  lower {e['lower_bound']:.6e}  "
                f"gap {e['relative_gap']:.3e}  res_p {e['primal_residual']:.2e}  res_d {e['dual_residual']:.2e}  "
                f"rho {e['rho']:.2e}  {e['seconds']:.2f}s  ETA {left}"
            )
            return
        now = time.monotonic()
        if self._last_line is None or now - self._last_line >= LINE_INTERVAL_S:
            self._last_line = now
            self._write(self._short_line(e, left))

    @staticmethod
    def _short_line(e: Dict[str, Any], left: str) -> str:
        return f"cronos: iter {e['iteration']}  gap {e['relative_gap']:.2e}  {e['seconds']:.1f}s  ETA {left}"

    def _update_bar(self, e: Dict[str, Any], left: str) -> None:
        if self._bar is None:
            self._bar = self._tqdm_cls(
                total=100, desc="cronos", file=sys.stderr, leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]",
            )
        self._bar.set_postfix_str(f"iter {e['iteration']}/{self.eta.max_iter}, gap {e['relative_gap']:.2e}, ETA {left}", refresh=False)
        # update() (even by 0) redraws at most every `mininterval` (0.1 s): a file or a
        # notebook cell does not get a line per certificate
        self._bar.update(int(round(100 * self.eta.fraction_done())) - self._bar.n)

    def close(self, result: Optional[Dict[str, Any]] = None) -> None:
        """Ends the display: closes the bar, and with the fit's result dict writes its status
        (None: the fit failed or was interrupted, nothing more is written)."""
        if self._bar is not None:
            if result is not None:
                self._bar.n = 100
                self._bar.refresh()
            self._bar.close()
            self._bar = None
        if result is None:
            return
        self._write(
            f"cronos: {result.get('status')} after {result.get('n_iter')} iterations, gap {float(result.get('relative_gap', float('nan'))):.2e} "
            f"(tol_gap {self.eta.tol_gap:g}), {float(result.get('solve_seconds', 0.0)):.2f}s solve + "
            f"{float(result.get('setup_seconds', 0.0)):.2f}s setup"
        )


def _num(v: Any, spec: str) -> str:
    return "nan" if v is None else format(float(v), spec)
