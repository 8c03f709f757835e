"""`git provenance audit`: walk, judge, print the report, return the exit status."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from provenance.audit import report, sarif, spool, walk
from provenance.errors import ProvenanceError
from provenance.git import git
from provenance.policy import coverage, schema, source


def _subjects(shas: list[str], cwd: str | Path | None) -> dict[str, str]:
    """Subjects of the commits that have violations (one process for all of them)."""
    if not shas:
        return {}
    out = git.run(["log", "--no-walk=unsorted", "--format=%H %s", "--stdin"], cwd=cwd,
                  input="".join(s + "\n" for s in shas).encode())
    pairs = (line.split(" ", 1) for line in out.decode("utf-8", "replace").splitlines())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def run_audit(
    range: str | None, trust_root: str | None, policy_file: str | None, fmt: str,
    cwd: str | Path | None, *, use_cache: bool = True,
) -> int:
    """Print the audit of RANGE in `fmt`; 0 clean, 1 violations; ProvenanceError when it cannot run."""
    if fmt not in report.FORMATS:
        raise ProvenanceError(f"unknown format {fmt!r}: choose one of {', '.join(report.FORMATS)}")
    progress = None
    if fmt == "text" and sys.stderr.isatty():
        tip = range or "HEAD"
        try:
            total = int(git.text(["rev-list", "--count", "--end-of-options", tip], cwd=cwd))
        except (ProvenanceError, ValueError):
            total = 0
        progress = report.progress_printer(total)
    result = walk.audit(range, trust_root, policy_file, cwd, progress, use_cache=use_cache)
    result = dataclasses.replace(result, warnings=tuple(glob_warnings(range, policy_file, cwd)))
    if fmt == "json":
        report.write_json(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        flagged = [j.commit for j in spool.flagged(result.judgements)]
        subjects = _subjects(flagged, cwd)
        if fmt == "sarif":
            sarif.write_sarif(result, subjects, sys.stdout)
        else:
            render = report.to_text if fmt == "text" else report.to_markdown
            print(render(result, subjects))
    return 1 if spool.summary(result.judgements).violations else 0


def glob_warnings(range: str | None, policy_file: str | None,
                  cwd: str | Path | None) -> list[coverage.UnmatchedGlob]:
    """Rule globs matching no file at the audited tip, under the policy written there (or
    `--policy`). Once per audit, never per commit; a tip whose policy does not load has nothing
    to add to what the walk reported."""
    tips = [r for r in git.resolve_revs([range or "HEAD"], cwd=cwd) if not r.startswith("^")]
    if not tips:
        return []
    try:
        pol = schema.load_file(policy_file) if policy_file else source.load_at(tips[0], cwd=cwd)
    except ProvenanceError:
        return []
    tracked = coverage.tracked_paths(tips[0], cwd)
    if pol is None or tracked is None:
        return []
    return coverage.unmatched(pol, tracked.paths, "HEAD" if range is None else tips[0][:12],
                              tracked.gitlinks)
