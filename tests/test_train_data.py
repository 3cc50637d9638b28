"""Mining on a real Lucene index of Cranfield, labelling against a real OpenAI-compatible server on
127.0.0.1 (it replays teacher answers), the self-consistency filter, and the training formats."""
from __future__ import annotations

import json
import re

import pytest
from replay_server import ReplayServer

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.train.filter import FilterReport, consistency, self_consistent
from reasonrank_ir.train.formats import (
    PromptSettings, chat_example, grpo_example, read_released, sft_example,
)
from reasonrank_ir.train.mine import MiningConfig, build_list, mine_topics
from reasonrank_ir.train.sample import Sample, append_samples, done_keys, read_samples
from reasonrank_ir.types import Candidate, Query

# -- mining -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mined(cranfield):
    return list(mine_topics(cranfield, MiningConfig(seed=7), num_queries=6))


@pytest.mark.slow
def test_mined_lists_have_20_distinct_passages_with_their_positives(mined, cranfield):
    assert len(mined) == 6
    qrels = cranfield.qrels()
    for sample in mined:
        ids = sample.initial_list
        assert len(ids) == 20 and len(set(ids)) == 20
        assert sample.positives and set(sample.positives) <= set(ids)
        assert all(qrels[sample.query_id][d] > 0 for d in sample.positives)
        assert all(c.doc and c.doc.get("text") for c in sample.candidates)  # passages travel with the list


@pytest.mark.slow
def test_mining_is_reproducible_with_a_seed_and_changes_with_another(cranfield, mined):
    again = list(mine_topics(cranfield, MiningConfig(seed=7), num_queries=6))
    assert [s.to_json() for s in again] == [s.to_json() for s in mined]
    shuffled = list(mine_topics(cranfield, MiningConfig(seed=7, order="shuffle"), num_queries=6))
    other = list(mine_topics(cranfield, MiningConfig(seed=8, order="shuffle"), num_queries=6))
    assert [s.initial_list for s in shuffled] != [s.initial_list for s in other]
    assert [set(s.initial_list) for s in shuffled] == [set(s.initial_list) for s in mined]


def test_build_list_sizes_and_missed_positives():
    query = Query("q", "text")
    hits = [f"h{i}" for i in range(30)]
    ids, kept = build_list(query, hits, ["h3", "missed"], MiningConfig(list_size=10, depth=30), "x")
    assert len(ids) == 10 and set(kept) == {"h3", "missed"} and "missed" in ids
    assert [d for d in ids if d != "missed"] == [f"h{i}" for i in range(9)]  # BM25 order kept
    assert build_list(query, hits[:5], ["h1"], MiningConfig(list_size=10, depth=30), "x") is None
    with pytest.raises(ReasonRankError):
        MiningConfig(order="random")


@pytest.mark.slow
def test_mine_cli_writes_and_resumes(cranfield, tmp_path, capsys):
    from reasonrank_ir.train.mine.__main__ import main

    out = tmp_path / "mined.jsonl"
    assert main(["--index", "cranfield", "--output", str(out), "--num-queries", "2", "--seed", "7"]) == 0
    assert main(["--index", "cranfield", "--output", str(out), "--num-queries", "3", "--seed", "7"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and len(done_keys(out)) == 3
    assert "2 were already there" in capsys.readouterr().out


# -- labelling against a replaying server ----------------------------------------------------------


def teacher_reply(marker: str):
    """A teacher with R1-style reasoning_content. Pointwise: 'Yes' for passages containing ``marker``.
    Listwise: the passages with the marker first, in reverse order of their number, then the rest."""

    def reply(body: dict) -> tuple[str, str]:
        messages = body["messages"]
        if len(messages) == 1:
            passage = messages[0]["content"].split("Passage: ", 1)[1]
            content = "Yes" if marker in passage else "No"
        else:
            passages = {int(m["content"][1:m["content"].index("]")]): m["content"]
                        for m in messages if m["role"] == "user" and re.match(r"\[\d+\] ", m["content"])}
            hits = sorted((i for i, p in passages.items() if marker in p), reverse=True)
            rest = [i for i in sorted(passages) if i not in hits]
            content = " > ".join(f"[{i}]" for i in hits + rest)
        return content, "Let me think about each passage."

    return reply


@pytest.fixture()
def teacher():
    server = ReplayServer(teacher_reply("boundary"))
    yield server
    server.close()


@pytest.mark.slow
def test_label_cli_labels_resumably_with_costs(mined, teacher, tmp_path, capsys):
    from reasonrank_ir.train.label.__main__ import main

    mined_path, out = tmp_path / "mined.jsonl", tmp_path / "labelled.jsonl"
    append_samples(mined_path, mined[:3])
    argv = ["--input", str(mined_path), "--output", str(out), "--model", "deepseek-reasoner",
            "--base-url", teacher.url, "--concurrency", "4", "--batch-size", "2",
            "--price-input", "1.0", "--price-output", "2.0"]
    assert main(argv) == 0
    labelled = list(read_samples(out))
    assert len(labelled) == 3 and len(teacher.requests) == 3 * 21
    for sample in labelled:
        marked = [c.doc_id for c in sample.candidates if "boundary" in json.dumps(c.doc)]
        assert set(sample.relevant) == set(marked)
        assert sorted(sample.final_list) == sorted(sample.initial_list)
        assert list(sample.final_list[:len(marked)]) == sorted(marked, key=sample.initial_list.index, reverse=True)
        assert sample.reasoning == "Let me think about each passage."
        assert sample.usage["prompt_tokens"] == 21 * 100 and sample.usage["output_tokens"] == 21 * 10
        assert sample.usage["cost"] == pytest.approx((2100 * 1.0 + 210 * 2.0) / 1e6)
    listwise = next(r for r in teacher.requests if len(r["messages"]) > 1)["messages"]
    assert listwise[1] == {"role": "assistant", "content": "Okay, please provide the passages."}
    assert listwise[2]["content"].startswith("[1] ") and listwise[3]["content"] == "Received passage [1]."
    assert listwise[-1]["content"].startswith("Search Query: ")

    append_samples(mined_path, mined[3:4])
    assert main(argv) == 0  # resume: only the new list is asked for
    assert len(list(read_samples(out))) == 4 and len(teacher.requests) == 4 * 21
    assert "3 lists were already labelled" in capsys.readouterr().out


def test_reasoning_cut_off_by_max_tokens_gives_no_verdict_and_no_ranking():
    from reasonrank_ir.rerank.parse import split_think
    from reasonrank_ir.train.label import parse_judgment, parse_ranking

    assert split_think("<think>plan</think>\nYes") == ("plan", "Yes", True)
    assert split_think("No") == ("", "No", True)
    cut = "<think>\nIs it relevant? No... wait, [3] covers it, yes"
    reasoning, reply, closed = split_think(cut)
    assert reasoning.startswith("Is it relevant?") and reply == "" and not closed
    assert parse_judgment(reply) is None  # counted unreadable, not a guess from the thoughts
    assert parse_ranking(reply, 3) == ([0, 1, 2], True)


# -- filter -----------------------------------------------------------------------------------------


def _labelled(dataset: str, qid: str, relevant: list[str], final: list[str]) -> Sample:
    candidates = tuple(Candidate(d, 1.0, {"text": f"passage {d}"}) for d in "abcdefghijkl")
    return Sample(dataset, Query(qid, "q"), candidates).with_labels(relevant, final, "r")


def test_filter_keeps_self_consistent_lists_and_reports_per_domain(tmp_path, capsys):
    order = list("abcdefghijkl")
    keep_top = _labelled("math", "1", ["a"], order)                                  # NDCG 1
    at_three = _labelled("math", "2", ["c"], order)                                  # 1/log2(4) = 0.5
    at_four = _labelled("code", "3", ["d"], order)                                   # 1/log2(5) = 0.431
    at_five = _labelled("code", "4", ["e"], order)                                   # 1/log2(6) = 0.387
    beyond = _labelled("code", "5", ["l"], order)                                    # outside the top 10: 0
    unlabelled = Sample("code", Query("6", "q"), keep_top.candidates)
    assert consistency(at_four) == pytest.approx(0.4307, abs=1e-4)
    report = FilterReport(0.4)
    kept = list(self_consistent([keep_top, at_three, at_four, at_five, beyond], 0.4, report))
    assert [s.query_id for s in kept] == ["1", "2", "3"]
    assert report.kept == {"math": 2, "code": 1} and report.seen == {"math": 2, "code": 3}
    with pytest.raises(ReasonRankError, match="list code/6 is not labelled"):  # no teacher list to judge
        list(self_consistent([keep_top, unlabelled]))

    from reasonrank_ir.train.filter.__main__ import main

    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    append_samples(src, [keep_top, at_three, at_four, at_five, beyond])
    assert main(["--input", str(src), "--output", str(dst), "--alpha", "0.45"]) == 0
    assert [s.query_id for s in read_samples(dst)] == ["1", "2"]
    table = capsys.readouterr().out
    assert re.search(r"math\s+2\s+2", table) and re.search(r"code\s+0\s+3", table)


# -- formats ----------------------------------------------------------------------------------------


def test_sft_and_grpo_examples_use_the_reranker_prompt(qwen_tokenizer):
    from reasonrank_ir.rerank.prompts import PassageFormatter, build_messages, render

    sample = _labelled("math", "1", ["c"], list("cabdefghijkl"))
    settings = PromptSettings(max_passage_tokens=8)
    passages = PassageFormatter(qwen_tokenizer, 8).format_many(c.doc for c in sample.candidates)
    expected_prompt = render(build_messages("q", passages), qwen_tokenizer).text
    turn = "<think>r</think> <answer>[3] > [1] > [2] > " + " > ".join(f"[{i}]" for i in range(4, 13)) + "</answer>"

    chat = chat_example(sample, qwen_tokenizer, settings)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant"]
    assert chat["messages"][2]["content"] == turn
    sft = sft_example(sample, qwen_tokenizer, settings)
    assert sft == {"prompt": expected_prompt, "completion": turn + "<|im_end|>"}
    grpo = grpo_example(sample, qwen_tokenizer, settings)
    assert grpo["prompt"] == expected_prompt and grpo["relevant_docids"] == ["c"]
    assert grpo["final_list"] == list("cabdefghijkl")


def test_released_data_reads_into_samples(tmp_path):
    (tmp_path / "id_query").mkdir()
    (tmp_path / "id_doc").mkdir()
    (tmp_path / "id_query" / "math-qa.json").write_text(json.dumps({"math_1": "What is [2] + 2?"}))
    with (tmp_path / "id_doc" / "math-qa.jsonl").open("w") as f:
        for d in ("p1", "p2", "p3"):
            f.write(json.dumps({"id": d, "text": f"text of {d}"}) + "\n")
    data = tmp_path / "training_data_all.jsonl"
    data.write_text(json.dumps({"dataset": "math-qa", "qid": "math_1", "initial_list": ["p1", "p2", "p3"],
                                "final_list": ["p3", "p1", "p2"], "reasoning": "Okay, ...",
                                "relevant_docids": ["p3"]}) + "\n")
    (sample,) = read_released(data)
    assert sample.query.text == "What is [2] + 2?" and sample.initial_list == ("p1", "p2", "p3")
    assert sample.candidates[2].doc == {"id": "p3", "text": "text of p3"}
    assert sample.teacher_order() == [2, 0, 1] and sample.relevant == ("p3",) and consistency(sample) == 1.0
    (tmp_path / "id_doc" / "math-qa.jsonl").write_text(json.dumps({"id": "p1", "text": "only p1"}) + "\n")
    with pytest.raises(ReasonRankError, match="p2"):
        list(read_released(data))


def test_config_overrides_keep_types():
    from reasonrank_ir.train.config import apply_overrides, read_config

    config = read_config("grpo")
    assert config["training"]["num_generations"] == 8 and config["training"]["beta"] == 0.001
    assert config["reward"] == {"phi": 0.2, "gamma": 0.1, "p": 1.0, "k": 10}
    changed = apply_overrides(config, ["training.learning_rate=1e-5", "training.save_strategy=no",
                                       "lora.target_modules=[q_proj, v_proj]", "reward.p=0.9"])
    assert changed["training"]["learning_rate"] == 1e-5 and changed["training"]["save_strategy"] == "no"
    assert changed["lora"] == {"target_modules": ["q_proj", "v_proj"]} and changed["reward"]["p"] == 0.9
    assert config["training"]["learning_rate"] == 1e-6  # the original is left alone
    with pytest.raises(ReasonRankError):
        apply_overrides(config, ["no-equals-sign"])


def test_packaged_configs_are_their_trainers_settings():
    from reasonrank_ir.train.config import read_config
    from reasonrank_ir.train.grpo import GRPOSettings
    from reasonrank_ir.train.reward import RewardConfig
    from reasonrank_ir.train.sft import SFTSettings

    sft, grpo = SFTSettings.parse(read_config("sft")), GRPOSettings.parse(read_config("grpo"))
    assert sft.training["learning_rate"] == 5e-6 and sft.prompt.max_passage_tokens == 512 and sft.lora is None
    assert grpo.reward == RewardConfig() and grpo.training["num_generations"] == 8
    # a section the trainer lacks, and the trainer's defaults under a partial training section
    with pytest.raises(ReasonRankError, match="unknown setting 'reward'"):
        SFTSettings.parse({"reward": {"phi": 0.2}})
    with pytest.raises(ReasonRankError, match="training: unknown setting 'num_generations'"):  # a GRPOConfig field
        SFTSettings.parse(read_config("grpo"))
    assert SFTSettings.parse({"training": {"max_steps": 3}}).training == {**SFTSettings.DEFAULT_TRAINING, "max_steps": 3}


@pytest.mark.parametrize("assignment, message", [
    ("modle=x", "error: unknown setting 'modle'; choose one of model, data, "),
    ("modle=x", "Did you mean: model?"),
    ("training.learnin_rate=1e-5", "error: training: unknown setting 'learnin_rate'"),
    ("training.learnin_rate=1e-5", "Did you mean: learning_rate"),
    ("reward.phy=0.3", "error: reward: unknown setting 'phy'; choose one of phi, gamma, p, k. Did you mean: phi"),
    ("prompt.max_pasage_tokens=100", "error: prompt: unknown setting 'max_pasage_tokens'; choose one of max_passage_tokens, "
                                     "style. Did you mean: max_passage_tokens?"),
    ("lora.rr=8", "error: lora: unknown setting 'rr'"),
    ("lora.rr=8", "Did you mean: r?"),
    ("reward.p=abc", "error: reward.p must be a number, found 'abc'"),
])
def test_unknown_or_ill_typed_settings_are_one_line_naming_the_key(assignment, message, tmp_path, capsys):
    from reasonrank_ir.train.grpo.__main__ import main

    assert main(["--config", "grpo", "--set", assignment, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_flags_yaml_keys_and_set_share_names_and_defaults(tmp_path, capsys):
    from reasonrank_ir.train.config import parse_settings, settings_parser
    from reasonrank_ir.train.label import LabelConfig, LabelSettings
    from reasonrank_ir.train.mine import MineSettings
    from reasonrank_ir.train.mine.__main__ import main

    def parser():
        return settings_parser(MineSettings, "mine", "")

    assert parse_settings(MineSettings, parser(), []) == MineSettings()
    assert (MineSettings().list_size, MineSettings().order) == (MiningConfig().list_size, MiningConfig().order)
    assert LabelSettings().pointwise_max_tokens == LabelConfig().pointwise.max_tokens
    config = tmp_path / "mine.yaml"
    config.write_text("index: cranfield\nlist-size: 7\nbase_urls: http://a\nnum_queries: 3\n")
    from_file = parse_settings(MineSettings, parser(), ["--config", str(config)])
    assert (from_file.index, from_file.list_size, from_file.base_urls, from_file.num_queries) == (
        "cranfield", 7, ["http://a"], 3)
    flags = parse_settings(MineSettings, parser(), ["--config", str(config), "--list-size", "9", "--base-url", "http://b",
                                                    "--base-url", "http://c"])
    assert (flags.list_size, flags.base_urls, flags.num_queries) == (9, ["http://b", "http://c"], 3)  # flags win
    config.write_text("index: cranfield\nlist_sise: 7\n")
    assert main(["--config", str(config), "--output", str(tmp_path / "m.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {config}: unknown setting 'list_sise'; choose one of model, ") and err.count("\n") == 1
    assert err.endswith("Did you mean: list_size?\n")


@pytest.mark.parametrize("record, expected", [
    ('[1, 2]', "expected a JSON object"),
    ('{"qid": "1", "query": "q", "initial_list": 5}', "a field has the wrong type"),
    ('{"qid": "1", "query": "q", "initial_list": ["a"], "docs": ["a"]}', "a field has the wrong type"),
    ('{"query": "q", "initial_list": ["a"]}', "lacks the field 'qid'"),
])
def test_malformed_training_lists_name_the_line(tmp_path, record, expected):
    path = tmp_path / "lists.jsonl"
    path.write_text(json.dumps(_labelled("math", "1", ["a"], list("abcdefghijkl")).to_json()) + "\n" + record + "\n")
    with pytest.raises(ReasonRankError, match=r"lists\.jsonl:2: ") as error:
        list(read_samples(path))
    assert expected in str(error.value)


def test_a_job_that_fails_before_its_first_sample_leaves_no_output(tmp_path):
    """train.label used to leave an empty --output when the teacher failed on the first batch."""
    def failing():
        raise ReasonRankError("the teacher is down")
        yield  # a generator, as label_samples is

    out = tmp_path / "new" / "labelled.jsonl"
    with pytest.raises(ReasonRankError, match="the teacher is down"):
        append_samples(out, failing())
    assert not out.exists() and not out.parent.exists()


@pytest.mark.parametrize("relevant", [[], ()])
def test_a_grpo_row_needs_a_relevant_passage(qwen_tokenizer, relevant):
    """The reward's NDCG@10 is undefined without one (upstream divides by zero): refused with the sample named."""
    candidates = tuple(Candidate(d, 1.0, {"text": f"passage {d}"}) for d in "ab")
    sample = Sample("toy", Query("7", "q"), candidates).with_labels(relevant, ["a", "b"], "r")
    with pytest.raises(ReasonRankError, match="Sample toy/7: no relevant passage"):
        grpo_example(sample, qwen_tokenizer)


@pytest.mark.parametrize(("flags", "error", "in_file"), [
    (["--list-size", "1"], "--list-size must be at least 2, found 1", "list_size must be at least 2, found 1"),
    (["--max-positives", "0"], "--max-positives must be a positive integer, found 0",
     "max_positives must be a positive integer, found 0"),
    (["--depth", "5"], "--depth 5 is smaller than --list-size 20: a list is filled from the depth's BM25 hits", None),
    (["--depth", "30", "--list-size", "40"], "--depth 30 is smaller than --list-size 40: a list is filled from the "
                                             "depth's BM25 hits", None),
])
def test_list_settings_are_declared_once_and_checked_before_any_work(flags, error, in_file, tmp_path, capsys):
    """The command's flags, a YAML file's keys and the library's MiningConfig check the same declaration."""
    from reasonrank_ir.train.mine import MINING_SETTINGS, MineSettings
    from reasonrank_ir.train.mine.__main__ import main

    output = tmp_path / "lists.jsonl"
    assert main(["--index", "no-such-dataset", "--output", str(output), *flags]) == 2  # refused before the dataset
    assert capsys.readouterr().err == f"error: {error}\n" and not output.exists()
    values = {flag.removeprefix("--").replace("-", "_"): int(value) for flag, value in zip(flags[::2], flags[1::2])}
    with pytest.raises(ReasonRankError, match="^" + re.escape(error) + "$"):
        MiningConfig(**values)
    config = tmp_path / "mine.yaml"
    config.write_text("".join(f"{key}: {value}\n" for key, value in values.items()))
    assert main(["--config", str(config), "--index", "no-such-dataset", "--output", str(output)]) == 2
    assert capsys.readouterr().err == f"error: {config}: {in_file or error}\n"
    assert [name for name in MineSettings.model_fields if name in MINING_SETTINGS] == list(MINING_SETTINGS)
