"""The offline verifier: every kind of tampering is found, at the first bad entry."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.checkpoint import generate_key, parse_and_verify, sign_checkpoint, verifier_key
from audit.events import EntryError, canonical_bytes
from audit.merkle import EMPTY_ROOT, leaf_hash
from audit.sealing import open_entry, store_entry
from audit.verify import BundleError, main, verify_log, verify_proof_bundle

REPOSITORY = Path(__file__).resolve().parents[3]


def objs(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def dump(entries: list[dict]) -> list[str]:
    return [json.dumps(e) + "\n" for e in entries]


def leaf_of(obj: dict) -> bytes:
    return leaf_hash(canonical_bytes(obj))


def rechain(entries: list[dict], start: int) -> None:
    """What a careful forger does: recompute every prev_hash from ``start`` on."""
    for j in range(max(start, 1), len(entries)):
        entries[j]["prev_hash"] = base64.b64encode(leaf_of(entries[j - 1])).decode()


def checked(small_log, lines: list[str], size: int | None = None):
    note = small_log.log.checkpoint(small_log.signer, size=size)
    return verify_log(lines, parse_and_verify(note, small_log.vkey))


def test_an_untouched_log_verifies(small_log) -> None:
    lines = small_log.lines()
    report = checked(small_log, lines)
    assert report.ok and report.size == 20 and report.first_bad_seq is None
    assert report.root == small_log.log.tree.root()
    assert "ok: 20 entries" in report.summary()
    # Without a checkpoint: consistent, and the summary says that is all it is.
    alone = verify_log(lines)
    assert alone.ok and "not shown authentic" in alone.summary()
    # The log grew after the checkpoint: still fine, and the summary says what is not covered.
    grown = checked(small_log, lines, size=15)
    assert grown.ok and "entries 15..19 are not covered" in grown.summary()


def test_blank_lines_and_other_json_spellings_do_not_matter(small_log) -> None:
    entries = objs(small_log.lines())
    spelled = [json.dumps(dict(reversed(e.items())), indent=None) + "\n\n" for e in entries]
    assert checked(small_log, spelled).ok


def test_an_empty_log_and_an_empty_checkpoint() -> None:
    key = generate_key()
    note = sign_checkpoint("x.example/log", 0, EMPTY_ROOT, key, "x.example/log")
    report = verify_log([], parse_and_verify(note, verifier_key("x.example/log", key)))
    assert report.ok and report.size == 0 and report.root == EMPTY_ROOT
    bad = sign_checkpoint("x.example/log", 0, leaf_hash(b""), key, "x.example/log")
    report = verify_log([], parse_and_verify(bad, verifier_key("x.example/log", key)))
    assert not report.ok and report.first_bad_seq is None


@pytest.mark.parametrize("field,value", [("decision", "deny"), ("time", "2026-03-03T00:00:00Z"),
                                         ("citations", []), ("requester_category", "parent")])
def test_a_changed_entry_is_found(small_log, field: str, value: object) -> None:
    entries = objs(small_log.lines())
    entries[7][field] = value
    report = checked(small_log, dump(entries))
    assert (report.ok, report.first_bad_seq) == (False, 7)
    assert "entry 7" in report.problem and "changed" in report.problem
    # Without a checkpoint the hash chain alone finds it.
    assert verify_log(dump(entries)).first_bad_seq == 7


def test_a_changed_sealed_part_is_found(small_log) -> None:
    entries = objs(small_log.lines())
    sealed = entries[7]["sealed"]
    entries[7]["sealed"] = ("B" if sealed[0] != "B" else "C") + sealed[1:]
    assert checked(small_log, dump(entries)).first_bad_seq == 7


def test_a_change_to_the_last_entry_needs_the_checkpoint(small_log) -> None:
    entries = objs(small_log.lines())
    entries[19]["decision"] = "deny"
    report = checked(small_log, dump(entries))
    assert (report.ok, report.first_bad_seq) == (False, 19)
    assert "signed root" in report.problem
    # Nothing comes after it to vouch for it: that is what checkpoints are for.
    assert verify_log(dump(entries)).ok


def test_a_deleted_entry_is_found(small_log) -> None:
    entries = objs(small_log.lines())
    del entries[7]
    report = checked(small_log, dump(entries))
    assert (report.first_bad_seq, "entry 7 is missing" in report.problem) == (7, True)
    # Deleted, and the later entries renumbered to hide the gap.
    for e in entries[7:]:
        e["seq"] -= 1
    assert checked(small_log, dump(entries)).first_bad_seq == 7
    assert verify_log(dump(entries)).first_bad_seq == 7


@pytest.mark.parametrize("a,b", [(7, 8), (7, 12), (0, 19)])
def test_reordered_entries_are_found(small_log, a: int, b: int) -> None:
    entries = objs(small_log.lines())
    entries[a], entries[b] = entries[b], entries[a]
    report = checked(small_log, dump(entries))
    assert (report.ok, report.first_bad_seq) == (False, a)


def forged(small_log, seq: int, prev: bytes | None) -> dict:
    original = open_entry(small_log.log.entries[seq], small_log.keys["stu-0001"])
    fake = dataclasses.replace(original, decision="deny", outcome="refused")
    return store_entry(fake, small_log.keys["stu-0001"], prev).to_json()


@pytest.mark.parametrize("careful", [True, False])
def test_an_inserted_entry_is_found(small_log, careful: bool) -> None:
    entries = objs(small_log.lines())
    prev = leaf_of(entries[6]) if careful else b"\x00" * 32
    entries.insert(7, forged(small_log, 7, prev))  # seq 7 is about stu-0001
    report = checked(small_log, dump(entries))
    assert (report.ok, report.first_bad_seq) == (False, 7), report.problem
    # Inserted, and the later entries renumbered to make room.
    for e in entries[8:]:
        e["seq"] += 1
    assert checked(small_log, dump(entries)).first_bad_seq == 7
    assert verify_log(dump(entries)).first_bad_seq == 7


def test_a_truncated_log_is_found(small_log) -> None:
    lines = small_log.lines()[:17]
    report = checked(small_log, lines)
    assert (report.ok, report.first_bad_seq) == (False, 17)
    assert "truncated" in report.problem and "17..19" in report.problem
    assert checked(small_log, small_log.lines()[:0]).first_bad_seq == 0
    # A truncated log is a consistent log: only a checkpoint can tell.
    assert verify_log(lines).ok


def test_a_rewritten_hash_chain_is_still_caught_by_the_checkpoint(small_log) -> None:
    entries = objs(small_log.lines())
    entries[7]["decision"] = "deny"
    rechain(entries, 8)
    assert verify_log(dump(entries)).ok  # the chain alone is not authentication
    report = checked(small_log, dump(entries))
    # Which entry changed first is lost with the chain; the last signed one surely did.
    assert (report.ok, report.first_bad_seq) == (False, 19)
    assert "rewritten" in report.problem
    # Against an older checkpoint the first signed entries still match; the change
    # came after it, so the change at 7 is found only from the later checkpoint.
    assert checked(small_log, dump(entries), size=7).ok


def test_an_unreadable_line_is_found(small_log) -> None:
    lines = small_log.lines()
    lines[5] = lines[5][:40] + "\n"
    report = checked(small_log, lines)
    assert (report.ok, report.first_bad_seq, report.root) == (False, 5, None)
    assert "cannot be read" in report.problem
    lines = small_log.lines()
    lines[5] = lines[5].replace('"v":1', '"v":1,"v":1')
    assert checked(small_log, lines).first_bad_seq == 5


@pytest.fixture(scope="module")
def log25(log_factory):
    return log_factory(25)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_single_tampering_is_found_at_its_seq(log25, data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 25), label="log size")
    k = data.draw(st.integers(0, n - 1), label="tampered seq")
    how = data.draw(st.sampled_from(["change", "delete", "swap", "duplicate"]), label="how")
    entries = objs(log25.lines()[:n])
    if how == "change":
        entries[k]["outcome"] = "tampered"
    elif how == "delete":
        del entries[k]
    elif how == "swap":
        k = min(k, n - 2)
        entries[k], entries[k + 1] = entries[k + 1], entries[k]
    else:
        entries.insert(k, {**entries[k], "outcome": "forged"})
    note = log25.log.checkpoint(log25.signer, size=n)
    report = verify_log(dump(entries), parse_and_verify(note, log25.vkey))
    assert (report.ok, report.first_bad_seq) == (False, k), report.problem


def test_a_proof_bundle_verifies_with_the_public_key_alone(small_log) -> None:
    note = small_log.log.checkpoint(small_log.signer)
    bundle = json.loads(json.dumps(small_log.log.proof_bundle(11, note, 20)))
    report = verify_proof_bundle(bundle, small_log.vkey)
    assert report.ok and report.size == 20 and report.checkpoint.size == 20
    assert report.entry_seq == 11 and report.summary().startswith("ok: entry 11 is in the log")


@pytest.mark.parametrize("tamper,words", [
    (lambda b: b["entry"].update(decision="deny"), "not in the signed log"),
    (lambda b: b.update(leaf_index=12), "the proof is for leaf 12"),
    (lambda b: b["entry"].update(seq=12), "the proof is for leaf 11"),
    (lambda b: b.update(tree_size=21), "the checkpoint is of size 20"),
    (lambda b: b["proof"].reverse(), "not in the signed log"),
    (lambda b: b["proof"].pop(), "not in the signed log"),
    (lambda b: b.update(checkpoint=b["checkpoint"].replace("\n20\n", "\n21\n")), "does not verify"),
    (lambda b: b["entry"].pop("outcome"), "cannot be read"),
])
def test_a_tampered_proof_bundle_fails(small_log, tamper, words: str) -> None:
    note = small_log.log.checkpoint(small_log.signer)
    bundle = json.loads(json.dumps(small_log.log.proof_bundle(11, note, 20)))
    tamper(bundle)
    report = verify_proof_bundle(bundle, small_log.vkey)
    assert not report.ok and words in report.problem


def test_a_proof_bundle_under_another_key_fails(small_log) -> None:
    note = small_log.log.checkpoint(small_log.signer)
    bundle = small_log.log.proof_bundle(3, note, 20)
    other = verifier_key("records.example-usd.k12.ca.us/access-log", generate_key())
    report = verify_proof_bundle(bundle, other)
    assert not report.ok and "does not verify" in report.problem


@pytest.mark.parametrize("bundle", [[], {"entry": {}}, {
    "entry": {}, "leaf_index": -1, "tree_size": 1, "proof": [], "checkpoint": ""}, {
    "entry": {}, "leaf_index": 0, "tree_size": 1, "proof": ["AAAA"], "checkpoint": ""}, {
    "entry": {}, "leaf_index": 0, "tree_size": 1, "proof": "", "checkpoint": ""}, {
    "entry": {}, "leaf_index": 0, "tree_size": True, "proof": [], "checkpoint": ""}])
def test_a_malformed_bundle_is_bad_input(bundle: object, vkey: str) -> None:
    with pytest.raises(BundleError):
        verify_proof_bundle(bundle, vkey)


# The command line.

@pytest.fixture()
def files(small_log, tmp_path: Path) -> Callable[..., dict[str, str]]:
    def write(lines: list[str] | None = None, size: int | None = None) -> dict[str, str]:
        paths = {"log": tmp_path / "log.jsonl", "cp": tmp_path / "cp.txt",
                 "vkey": tmp_path / "vkey.txt", "proof": tmp_path / "proof.json"}
        paths["log"].write_text("".join(lines if lines is not None else small_log.lines()))
        note = small_log.log.checkpoint(small_log.signer, size=size)
        paths["cp"].write_text(note)
        paths["vkey"].write_text(small_log.vkey + "\n")
        paths["proof"].write_text(json.dumps(small_log.log.proof_bundle(4, note, 20)))
        return {name: str(path) for name, path in paths.items()}
    return write


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_verifies_a_log(files, capsys) -> None:
    f = files()
    code, out, err = run([f["log"], "--checkpoint", f["cp"], "--key", f["vkey"]],
                         capsys)
    assert (code, err) == (0, "") and out.startswith("ok: 20 entries") and out.count("\n") == 1
    code, out, _ = run([f["log"], "--json"], capsys)
    assert code == 0 and json.loads(out)["size"] == 20
    code, out, _ = run(["--proof", f["proof"], "--key", f["vkey"]], capsys)
    assert code == 0 and out.startswith("ok: entry 4 is in the log of records.example")


def test_the_command_reports_tampering(small_log, files, capsys) -> None:
    entries = objs(small_log.lines())
    del entries[12]
    f = files(dump(entries))
    code, out, _ = run([f["log"], "--checkpoint", f["cp"], "--key", f["vkey"]],
                       capsys)
    assert code == 1 and out.startswith("FAILED at seq 12: entry 12 is missing")
    code, out, _ = run([f["log"], "--checkpoint", f["cp"], "--key", f["vkey"],
                        "--json"], capsys)
    assert code == 1 and json.loads(out)["first_bad_seq"] == 12


def test_a_checkpoint_under_another_key_fails(files, tmp_path: Path, capsys) -> None:
    f = files()
    other = tmp_path / "other.txt"
    other.write_text(verifier_key("records.example-usd.k12.ca.us/access-log", generate_key()))
    code, out, err = run([f["log"], "--checkpoint", f["cp"], "--key", str(other)],
                         capsys)
    assert code == 1 and out.startswith("FAILED: the checkpoint does not verify") and not err


@pytest.mark.parametrize("argv,words", [
    ([], "either ENTRIES.jsonl or --proof"),
    (["{log}", "--proof", "{proof}", "--key", "{vkey}"], "either"),
    (["{log}", "--checkpoint", "{cp}"], "--key VKEY.txt is needed"),
    (["{log}", "--key", "{vkey}"], "--key is used with"),
    (["{log}", "--origin", "x"], "--origin is used with"),
    (["--proof", "{proof}"], "--key VKEY.txt is needed"),
    (["--bogus"], "unrecognized arguments"),
    (["missing.jsonl"], "cannot read entries missing.jsonl"),
    (["{log}", "--checkpoint", "missing.txt", "--key", "{vkey}"], "cannot read"),
    (["{log}", "--checkpoint", "{cp}", "--key", "{log}"], "not a verifier key"),
    (["--proof", "{log}", "--key", "{vkey}"], "not a proof bundle"),
    (["--proof", "{vkey}", "--key", "{vkey}"], "not a proof bundle"),
    (["--proof", "{proof}", "--key", "{cp}"], "not a verifier key"),  # a multi-line file
])
def test_bad_input_gets_one_line_and_exit_2(files, capsys, argv: list[str], words: str) -> None:
    f = files()
    code, out, err = run([a.format(**f) for a in argv], capsys)
    assert code == 2 and out == "" and words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_python_m_audit_verify_runs_without_the_service(files) -> None:
    f = files()
    check = ("import runpy, sys; sys.argv = ['audit.verify'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('audit.verify', run_name='__main__')\n"
             "except SystemExit as e:\n"
             "    bad = [m for m in ('flask', 'sqlalchemy', 'gateway') if m in sys.modules]\n"
             "    assert not bad, bad\n    raise\n")
    done = subprocess.run([sys.executable, "-c", check, f["log"], "--checkpoint", f["cp"],
                           "--key", f["vkey"]], capture_output=True, text=True,
                          cwd=REPOSITORY, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 20 entries")
    broken = subprocess.run([sys.executable, "-m", "audit.verify", "nowhere.jsonl"],
                            capture_output=True, text=True, cwd=REPOSITORY, timeout=60)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1
    assert "Traceback" not in broken.stderr


def test_entry_errors_are_value_errors() -> None:
    assert issubclass(EntryError, ValueError)
