"""--protocol judge: what exact matching cannot read goes to an OpenAI-compatible judge.

The judge here is a fake endpoint on loopback that answers VLMEvalKit's matching prompts the
way a judge model would; the key comes from the environment and travels in the header.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from dig_kit.evaluation import score_file
from dig_kit.evaluation.judge import MCQ_MATCH_PROMPT, YES_NO_MATCH_PROMPT, judge_option, judge_yes_no
from dig_kit.paper.benchmark_fixtures import write_smoke_suite


def _fake_reply(prompt: str) -> str:
    answer = prompt.rsplit("Answer: ", 1)[1].split("\nYour output", 1)[0].lower()
    if "single-choice question" in prompt:
        for word, letter in (("crimson", "A"), ("leaves", "B"), ("sky", "C")):
            if word in answer:
                return letter
        return "Z" if "nothing" in answer else "I am not sure."  # unreadable: retried, then judge_failed
    if "affirmative" in answer:
        return "Yes"
    if "negative" in answer:
        return "No"
    return "Unknown"


@pytest.fixture
def endpoint(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            reply = _fake_reply(body["messages"][0]["content"])
            data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DIG_KIT_JUDGE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("DIG_KIT_JUDGE_KEY", "sk-test-from-env")
    monkeypatch.setenv("DIG_KIT_JUDGE_MODEL", "fake-judge")
    yield seen
    server.shutdown()


def _preds(path, outputs):
    path.write_text("".join(json.dumps({"id": str(i), "output": o}) + "\n" for i, o in enumerate(outputs)))
    return path


def test_mcq_answers_exact_matching_cannot_read_go_to_the_judge(tmp_path, endpoint):
    data = write_smoke_suite(tmp_path / "data")
    # MMStar fixture: options A red, B green, C blue, D yellow; answers A, B, C, D
    outputs = [
        "A",  # exact matching reads it: no request
        "It looks like the colour of leaves to me.",  # no option word: the judge says B
        "The colour of a clear sky.",  # judge: C (answer is C)
        "There is nothing I can see.",  # judge: Z, none of the options
    ]
    m = score_file("mmstar", data, _preds(tmp_path / "p.jsonl", outputs), protocol="judge")
    rows = [json.loads(x) for x in (tmp_path / "p.scores.jsonl").read_text().splitlines()]
    assert [r["why"] for r in rows] == ["option_letter", "judge", "judge", "judge_none"]
    assert [r["pred"] for r in rows] == ["A", "B", "C", None]
    assert m["accuracy"] == 75.0 and m["protocol"] == "judge" and m["by_rule"]["judge"] == 2
    assert len(endpoint) == 3 and all(r["auth"] == "Bearer sk-test-from-env" for r in endpoint)
    assert endpoint[0]["path"] == "/v1/chat/completions" and endpoint[0]["body"]["model"] == "fake-judge"
    assert "Options: A. red\nB. green\nC. blue\nD. yellow" in endpoint[0]["body"]["messages"][0]["content"]
    # the same scoring again reads the cached replies: no new request
    again = score_file("mmstar", data, tmp_path / "p.jsonl", protocol="judge")
    assert again["accuracy"] == 75.0 and len(endpoint) == 3
    # the default protocol never asks the judge: those answers stay unparsed
    strict = score_file("mmstar", data, tmp_path / "p.jsonl")
    assert strict["accuracy"] == 25.0 and strict["unparsed"] == 3 and len(endpoint) == 3


def test_yes_no_answers_go_to_the_judge(tmp_path, endpoint):
    data = write_smoke_suite(tmp_path / "data")
    # POPE fixture: answers No, Yes, No, Yes, No, Yes
    outputs = ["No", "Affirmative, there is one.", "Negative.", "Maybe, hard to tell.", "no", "yes"]
    m = score_file("pope", data, _preds(tmp_path / "pope.jsonl", outputs), protocol="judge")
    rows = [json.loads(x) for x in (tmp_path / "pope.scores.jsonl").read_text().splitlines()]
    assert [r["why"] for r in rows] == ["yorn", "judge", "judge", "judge_failed", "yorn", "yorn"]
    assert [r["pred"] for r in rows] == ["no", "yes", "no", None, "no", "yes"]
    # 'Maybe': every one of the 5 tries (temperature 0, 0.5, ... 2.0) said Unknown
    temps = [r["body"]["temperature"] for r in endpoint if "Maybe" in r["body"]["messages"][0]["content"]]
    assert temps == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert m["n"] == 6 and m["by_rule"] == {"judge": 2, "judge_failed": 1, "yorn": 3}


def test_judge_protocol_without_an_endpoint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DIG_KIT_JUDGE_URL", raising=False)
    monkeypatch.delenv("DIG_KIT_JUDGE_KEY", raising=False)
    data = write_smoke_suite(tmp_path / "data")
    preds = _preds(tmp_path / "p.jsonl", ["green-ish"] * 4)
    with pytest.raises(ValueError, match="DIG_KIT_JUDGE_URL"):
        score_file("mmstar", data, preds, protocol="judge")
    assert not (tmp_path / "p.scores.jsonl").exists() and not (tmp_path / "p.metrics.json").exists()


# The prompts, as VLMEvalKit words them (its multiple-choice build_prompt and YOrN_match_prompt).
@pytest.mark.parametrize(
    "prompt, needle",
    [
        (MCQ_MATCH_PROMPT, "If the meaning of all options are significantly different from the answer, output Z."),
        (MCQ_MATCH_PROMPT, "Answer: Spider\nYour output: Z\n"),
        (YES_NO_MATCH_PROMPT, "Your should output a single word among the following 3 choices: Yes, No, Unknown."),
        (YES_NO_MATCH_PROMPT, "Answer: The word in this image is not 'Hello'.\nYour output: No\n"),
    ],
)
def test_prompts_follow_vlmevalkit(prompt, needle):
    assert needle in prompt and re.search(r"Question: \{question\}\?", prompt)


def test_judge_helpers_with_a_plain_callable():
    calls = []

    def judge(prompt, temperature):
        calls.append(temperature)
        return "The best match is B." if "single-choice" in prompt else "yes"

    assert judge_option(judge, "Which colour?", {"A": "red", "B": "green"}, "leafy") == ("B", "judge")
    assert judge_yes_no(judge, "Is it red?", "kind of") == ("yes", "judge")
    assert calls == [0.0, 0.0]
