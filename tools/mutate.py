"""Mutation testing of the code that guards victims (`make mutate`, docs/testing.md).

mutmut 3 is configured in pyproject.toml ([tool.mutmut]). This script runs it once per guarding
module, each time in a scratch copy of the tree under var/mutate/<module>/ (mutmut writes its
mutated copy and its results there, never into the working tree), with only that module's mutants
and only the test files that exercise it: mutmut maps each test to the functions it calls and runs
only those tests against a mutant, so a module's run takes minutes, not the full suite's ten.

    python tools/mutate.py                       every target below
    python tools/mutate.py cases/selectors.py    one (or several) of them

Each run uses its own test database (vs_mutate_<module>, and so its own Redis prefix and evidence
folder), one mutant at a time (MUTATE_JOBS to change that). The summary (killed / total per module,
and every mutant that was not killed) is printed and written to var/mutate/summary.txt (this run)
and var/mutate/<module>/summary.txt; the exit
status is 1 when a module scores below MUTATE_MIN_SCORE (85 by default, issue 14).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "mutate"

# module -> (test files that exercise it, mutant-name patterns or None for the whole module).
# A pattern restricts a big module to its guarding functions; mutmut names a mutant
# <dotted module>.x_<function>__mutmut_<n> (methods: xǁClassǁmethod__mutmut_<n>).
TARGETS: dict[str, tuple[list[str], list[str] | None]] = {
    "cases/selectors.py": (
        [
            "tests/cases/test_ownership.py",
            "tests/cases/test_consent.py",
            "tests/cases/test_intake_messages.py",
            "tests/cases/test_intake_routing.py",
            "tests/security/test_cross_centre_lists.py",
            "tests/security/test_watchlist_scope.py",
            "tests/mutation/test_selector_scoping.py",
            "tests/guards/test_centre_scoping.py",
        ],
        # The access and consent reads; not the search filters, paging, thread formatting or the
        # triage-centre fallback (routing, tested in tests/cases/test_intake_routing.py).
        [
            "x_cases_visible_to_*",
            "x_case_get_*",
            "x_case_get_by_reference_*",
            "x_consent_state_*",
            "x_has_consent_*",
            "x_assignable_staff_*",
            "x_intake_reports_visible_to_*",
            "x_intake_report_get_*",
        ],
    ),
    "evidence/selectors.py": (
        [
            "tests/evidence/test_locker.py",
            "tests/security/test_cross_centre_lists.py",
            "tests/mutation/test_selector_scoping.py",
            "tests/guards/test_centre_scoping.py",
            "tests/guards/test_download_grant.py",
        ],
        None,
    ),
    "core/audit.py": (
        [
            "tests/core/test_audit.py",
            "tests/security/test_audit_rewrite.py",
            "tests/core/test_audit_signer.py",
            "tests/mutation/test_audit_chain.py",
            "tests/mutation/test_audit_purge.py",
            "tests/mutation/test_audit_reports.py",
        ],
        None,
    ),
    "core/audit_signing.py": (
        [
            "tests/core/test_audit_signer.py",
            "tests/security/test_audit_rewrite.py",
            "tests/core/test_audit.py",
            "tests/mutation/test_audit_signing.py",
            "tests/mutation/test_audit_purge.py",
        ],
        None,
    ),
    "takedowns/selectors.py": (
        [
            "tests/takedowns/test_requests.py",
            "tests/security/test_cross_centre_lists.py",
            "tests/security/test_compliance_scope.py",
            "tests/takedowns/test_duplicates.py",
            "tests/takedowns/test_notices.py",
            "tests/guards/test_centre_scoping.py",
            "tests/mutation/test_takedown_reads.py",
        ],
        # The scoped reads; not the list filters and sorting, nor URL parsing.
        ["x_requests_visible_to_*", "x_manual_notices_visible_to_*", "x_request_get_*", "x_duplicate_labels_*"],
    ),
    "cases/retention.py": (
        [
            "tests/cases/test_retention.py",
            "tests/cases/test_deletion_requests.py",
            "tests/mutation/test_retention_scope.py",
            "tests/mutation/test_retention_policies.py",
        ],
        None,
    ),
    "cases/intake.py": (
        [
            "tests/cases/test_intake.py",
            "tests/cases/test_intake_routing.py",
            "tests/cases/test_intake_messages.py",
            "tests/cases/test_intake_case_fields.py",
            "tests/cases/test_deletion_requests.py",
            "tests/security/test_anonymous_times.py",
            "tests/mutation/test_intake_joints.py",
        ],
        # Routing (which centre a report reaches, the receipt that finds it again), what the
        # reporter is shown, and the joints between a report and a case. Not the form's cleaning
        # of text and files (tests/cases/test_intake.py) nor the decorated @transaction.atomic
        # services, which mutmut does not mutate (their guards are pinned in tests/guards).
        [
            "x_centre_for_code_*",
            "x__submit_*",
            "x_intake_find_*",
            "x__lookup_key_*",
            "x__slow_check_*",
            "x_intake_progress_*",
            "x__deletion_progress_*",
            "x_intake_mark_read_*",
            "x_intake_open_case_*",
            "x__link_*",
            "x_intake_attach_to_case_*",
        ],
    ),
    "cases/services.py": (
        [
            "tests/mutation/test_consent_override.py",
            "tests/cases/test_consent.py",
            "tests/guards/test_consent_guards.py",
            "tests/security/test_step_up.py",
        ],
        # The consent check every consent-needing action calls. consent_record and the other
        # @transaction.atomic services are decorated, which mutmut does not mutate.
        ["x_consent_require_*"],
    ),
    "takedowns/services.py": (
        [
            "tests/takedowns/test_send_selected.py",
            "tests/takedowns/test_requests.py",
            "tests/guards/test_takedown_evidence.py",
            "tests/guards/test_consent_guards.py",
            "tests/mutation/test_approval_scope.py",
            "tests/takedowns/test_duplicates.py",
        ],
        # Approval (consent, supervisor, duplicates), sending what was chosen, and the evidence a
        # request may link (only its own case's).
        ["x_takedown_approve_*", "x_takedown_send_selected_*", "x__case_evidence_*"],
    ),
    "evidence/services.py": (
        [
            "tests/mutation/test_download_grants.py",
            "tests/guards/test_download_grant.py",
            "tests/evidence/test_locker.py",
            "tests/security/test_step_up.py",
            "tests/mutation/test_evidence_verify.py",
        ],
        # Grants, downloads, exports and the reasoned access they share (not upload and processing).
        [
            "x_download_grant_create_*",
            "x_evidence_download_*",
            "x_evidence_export_*",
            "x_evidence_reveal_*",
            "x__record_reasoned_access_*",
            "x_evidence_verify_*",
        ],
    ),
    # The *_or_404 helpers every page goes through: the same 404 for what is missing and what is
    # another centre's (or beyond the role).
    "cases/views.py": (
        [
            "tests/guards/test_centre_scoping.py",
            "tests/security/test_cross_centre_lists.py",
            "tests/cases/test_ownership.py",
        ],
        ["x_case_or_404_*"],
    ),
    "evidence/views.py": (
        [
            "tests/security/test_cross_centre_lists.py",
            "tests/evidence/test_locker.py",
            "tests/guards/test_download_grant.py",
        ],
        ["x__evidence_or_404_*"],
    ),
    "cases/intake_views.py": (
        [
            "tests/security/test_cross_centre_lists.py",
            "tests/cases/test_intake_routing.py",
            "tests/cases/test_intake_messages.py",
        ],
        ["x__report_or_404_*"],
    ),
}

# mutmut's exit codes (mutmut/stats.py); a timeout means the mutant broke the code, so it counts as caught.
CAUGHT = {"killed", "timeout", "caught by type check"}


def _copy_tree(dest: Path) -> None:
    """The tracked and new (not ignored) files of the working tree, as they are now."""
    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _configure(dest: Path, module: str, tests: list[str]) -> None:
    """The copy's [tool.mutmut] mutates only `module` and selects only its tests."""
    path = dest / "pyproject.toml"
    text = path.read_text()
    text = re.sub(r"(?m)^only_mutate = .*$", f"only_mutate = [{module!r}]".replace("'", '"'), text)
    selection = ", ".join(f'"{t}"' for t in tests)
    text = re.sub(r"(?m)^pytest_add_cli_args_test_selection = .*$", f"pytest_add_cli_args_test_selection = [{selection}]", text)
    path.write_text(text)


def _drop_test_databases(url: str) -> None:
    """A run killed in the middle of a test that commits (transaction=True) leaves its rows in the
    reused test database; each module's run starts from fresh ones. (pytest-django prefixes the
    name with test_ once per pytest session in the process, so the forked runs use test_test_...)"""
    import psycopg2

    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname ~ %s", [f"^(test_)+{re.escape(name)}$"])
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    conn.close()


def _results(dest: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=dest, check=True, capture_output=True, text=True
    ).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def run(module: str) -> tuple[int, int, list[str]]:
    tests, patterns = TARGETS[module]
    slug = module.removesuffix(".py").replace("/", "_")
    dest = OUT / slug
    _copy_tree(dest)
    _configure(dest, module, [t for t in tests if (ROOT / t).exists()])
    env = dict(os.environ)
    env["TEST_DATABASE_URL"] = os.environ.get("MUTATE_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/vs_mutate_{slug}")
    env["TEST_LOG_FILE"] = str(dest / "test-log.jsonl")
    dotted = module.removesuffix(".py").replace("/", ".")
    names = [f"{dotted}.{p}" for p in patterns] if patterns else []
    jobs = os.environ.get("MUTATE_JOBS", "1")
    print(f"== {module}: mutmut over {len(tests)} test files" + (f", functions {patterns}" if patterns else ""), flush=True)
    _drop_test_databases(env["TEST_DATABASE_URL"])
    with open(dest / "mutmut.log", "w") as log:
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", jobs, *names], cwd=dest, env=env, stdout=log, stderr=log
        )
    if "Failed to run clean test" in (dest / "mutmut.log").read_text(errors="replace"):
        print(f"   the selected tests fail without any mutant: see {dest / 'mutmut.log'}", flush=True)
        return 0, 0, ["the clean run failed"]
    statuses = {n: s for n, s in _results(dest).items() if not names or any(fnmatch(n, p) for p in names)}
    missed = sorted(f"{n}: {s}" for n, s in statuses.items() if s not in CAUGHT)
    return len(statuses) - len(missed), len(statuses), missed


def main(argv: list[str]) -> int:
    modules = argv or list(TARGETS)
    unknown = [m for m in modules if m not in TARGETS]
    if unknown:
        print(f"not a mutation target: {unknown}; targets: {list(TARGETS)}")
        return 2
    minimum = float(os.environ.get("MUTATE_MIN_SCORE", "85"))
    OUT.mkdir(parents=True, exist_ok=True)
    lines, low = [], []
    for module in modules:
        killed, total, missed = run(module)
        score = 100.0 * killed / total if total else 0.0
        line = f"{module}: {killed}/{total} killed ({score:.1f}%)"
        print(line, flush=True)
        block = [line, *(f"    {m}" for m in missed)]
        (OUT / module.removesuffix(".py").replace("/", "_") / "summary.txt").write_text("\n".join(block) + "\n")
        lines += block
        if score < minimum:
            low.append(module)
    (OUT / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if low:
        print(f"below {minimum:.0f}%: {low}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
