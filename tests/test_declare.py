"""Settings declared once (``declare``): flags, spec fields, YAML keys, job keys and checks all follow it."""
from __future__ import annotations

from typing import Annotated

import pytest

from reasonrank_ir.declare import Setting, add_flags, declared
from reasonrank_ir.errors import ArgumentParser, ReasonRankError
from reasonrank_ir.pipeline.first_stage import FIRST_STAGE_SETTINGS
from reasonrank_ir.pipeline.ray_pool import RayOptions
from reasonrank_ir.rerank.declared import RERANKER_SETTINGS, RerankerSettings


class WithTemperature(RerankerSettings):
    """docs/architecture.md's worked example: one line adds a reranker setting."""

    temperature: Annotated[float, Setting("sampling temperature (default: %(default)s)", minimum=0,
                                          engine=True)] = 0.0


def test_the_worked_example_gives_a_flag_a_field_a_bound_and_a_job_key():
    from reasonrank_ir.settings import Settings, validate

    class Spec(Settings, WithTemperature):
        pass

    parser = ArgumentParser(prog="p")
    add_flags(parser, WithTemperature, ["window", "temperature"])
    assert vars(parser.parse_args(["--temperature", "0.6"])) == {"window": 20, "temperature": 0.6}
    assert "sampling temperature (default: 0.0)" in parser.format_help()
    with pytest.raises(ReasonRankError, match="--temperature: invalid float value 'hot'"):
        parser.parse_args(["--temperature", "hot"])
    assert validate(Spec, {"reranker": "oracle", "temperature": 0.6}).temperature == 0.6
    with pytest.raises(ReasonRankError, match=r"^systems\[0\]\.temperature must be at least 0, found -1$"):
        validate(Spec, {"reranker": "oracle", "temperature": -1}, place=lambda loc: f"systems[0].{loc[0]}")
    item = declared(WithTemperature)["temperature"]
    assert (item.flag, item.default, item.setting.recorded) == ("--temperature", 0.0, True)


def test_every_reranker_setting_is_a_search_flag_and_a_spec_field_with_one_default():
    from reasonrank_ir.rerank.spec import RerankerSpec
    from reasonrank_ir.search import build_parser

    assert list(RerankerSpec.model_fields) == list(RERANKER_SETTINGS)
    flags = {action.option_strings[0]: action for action in build_parser()._actions if action.option_strings}
    for name, item in RERANKER_SETTINGS.items():
        field = RerankerSpec.model_fields[name]
        if name == "reranker":
            assert field.is_required() and flags["--rerank"].default == "none"
            continue
        assert field.default == item.default
        if name != "options":  # engine options come from --backend-option and the engine flags
            assert flags[item.flag].default == item.default and flags[item.flag].dest == name


def test_the_first_stage_settings_are_search_flags_and_experiment_keys_with_one_default():
    from reasonrank_ir.experiments.config import FirstStageSpec
    from reasonrank_ir.search import build_parser

    args = build_parser().parse_args(["--index", "cranfield"])
    spec = FirstStageSpec()
    for name, item in FIRST_STAGE_SETTINGS.items():
        assert getattr(args, name) == getattr(spec, name) == item.default
    with pytest.raises(ReasonRankError, match=r"first_stage\.hits must be a positive integer, found 0"):
        from reasonrank_ir.experiments.config import parse_experiment

        parse_experiment({"name": "x", "datasets": ["cranfield"], "first_stage": {"hits": 0}})


def test_job_settings_keep_the_keys_finished_runs_were_recorded_with():
    """Runs finished before the declaration must still be recognised: the same keys, by flag."""
    from reasonrank_ir.pipeline.job_spec import JobSpec
    from reasonrank_ir.rerank.spec import RerankerSpec

    first = {"--index", "--topics", "--limit-queries", "--hits", "first stage", "--run", "--fuse-runs", "--k1", "--b",
             "--remove-query", "--rerank"}
    windows = {"--depth", "--window", "--step", "--passes", "--passage-tokens"}
    served = RerankerSpec(reranker="reasonrank", model="m", backend="openai", schedule="rounds", batch_size=3,
                          options={"base_urls": ["http://h/v1"], "concurrency": 3, "endpoint": "completions"})
    assert set(JobSpec("cranfield").settings()) == first
    oracle = RerankerSpec(reranker="oracle")
    assert set(JobSpec("cranfield", reranker=oracle).settings()) == first | windows | {"--qrels"}
    assert set(JobSpec("cranfield", reranker=served).settings(512)) == first | windows | {
        "--model", "--tokenizer", "--max-tokens", "--backend", "engine", "--base-url", "--backend-option endpoint"}


def test_rerank_config_checks_with_the_declared_bounds():
    from reasonrank_ir.rerank.listwise import RerankConfig

    with pytest.raises(ReasonRankError, match=r"^rerank window \(--window\) must be a positive integer, found 0$"):
        RerankConfig(window=0)
    with pytest.raises(ReasonRankError, match=r"rerank max_passage_tokens \(--passage-tokens\) must be a positive"):
        RerankConfig(max_passage_tokens=True)
    assert (RerankConfig().window, RerankConfig().depth) == (RERANKER_SETTINGS["window"].default,
                                                             RERANKER_SETTINGS["depth"].default)


@pytest.mark.parametrize("value, problem", [
    (3, None), (None, None), (0, "must be a positive integer, found 0"),
    (True, "must be a positive integer, found True"),
    ("3", "must be a positive integer, found '3'"),
])
def test_a_bound_words_its_problem_one_way(value, problem):
    assert RERANKER_SETTINGS["passage_tokens"].setting.problem(value, int) == problem
    assert RERANKER_SETTINGS["max_tokens"].setting.problem(0, int) == \
        "must be at least 1 (engines read 0 as no limit), found 0"


def test_a_choice_names_the_choices():
    item = RERANKER_SETTINGS["schedule"]
    with pytest.raises(ValueError, match=r"^unknown schedule 'pipeline'; choose one of rounds, pipelined\. "
                                         r"Did you mean: pipelined\?$"):
        item.check("pipeline")


class Command:
    """A command as every CLI declares its settings: a positional, a required flag, several values, a switch."""

    run: Annotated[str, Setting("a run file", positional=True, metavar="RUN")]
    qrels: Annotated[str, Setting("judgments", metavar="NAME_OR_FILE")]
    metrics: Annotated[list[str], Setting("measures (default: %(default)s)", nargs="+")] = ["nDCG@10"]
    hits: Annotated[int, Setting("candidates (default: %(default)s)", minimum=1)] = 100
    json: Annotated[bool, Setting("print JSON")] = False


def test_a_declared_command_parses_with_the_packages_one_line_errors():
    from reasonrank_ir.declare import command_parser

    parser = command_parser(Command, "cmd", "a command")
    args = parser.parse_args(["r.txt", "--qrels", "q", "--metrics", "MAP", "R@100", "--json"])
    assert vars(args) == {"run": "r.txt", "qrels": "q", "metrics": ["MAP", "R@100"], "hits": 100, "json": True}
    assert "  RUN                   a run file" in parser.format_help() and "(default: 100)" in parser.format_help()
    with pytest.raises(ReasonRankError, match=r"^the following arguments are required: --qrels \(see cmd --help\)$"):
        parser.parse_args(["r.txt"])
    with pytest.raises(ReasonRankError, match=r"^--hits: invalid int value 'abc' \(see cmd --help\)$"):
        parser.parse_args(["r.txt", "--qrels", "q", "--hits", "abc"])


def test_the_training_clis_parse_through_the_same_mechanism():
    """train.config's parser is declare's: --config, flags, --set, errors naming the flag."""
    from reasonrank_ir import declare
    from reasonrank_ir.train import config

    assert config.apply_overrides is declare.apply_overrides
    from reasonrank_ir.train.config import TeacherSettings

    parser = config.settings_parser(TeacherSettings, "teacher", "")
    assert config.parse_settings(TeacherSettings, parser, ["--base-url", "http://a", "--base-url", "http://b"]
                                 ).base_urls == ["http://a", "http://b"]
    with pytest.raises(ReasonRankError, match=r"^--concurrency must be at least 1"):
        config.parse_settings(TeacherSettings, parser, ["--concurrency", "0"])


@pytest.mark.parametrize(("argv", "expected"), [
    ([], None),
    (["--ray"], RayOptions()),  # bare: $RAY_ADDRESS, else a local instance
    (["--ray", "10.0.0.1:6379", "--ray-workers", "3"], RayOptions("10.0.0.1:6379", 3)),
    (["--ray", "--ray-gpus-per-worker", "1", "--ray-cpus-per-worker", "0.5"], RayOptions(None, None, 1.0, 0.5)),
])
def test_ray_flags_come_from_their_declaration(argv, expected):
    from reasonrank_ir.pipeline import ray_pool

    options, rest = ray_pool.parse_known([*argv, "--index", "cranfield"])
    assert (options, rest) == (expected, ["--index", "cranfield"])


@pytest.mark.parametrize(("argv", "error"), [
    (["--ray", "--ray-workers", "0"], "--ray-workers must be a positive integer, found 0"),
    (["--ray", "--ray-gpus-per-worker", "-1"], "--ray-gpus-per-worker must be at least 0, found -1.0"),
    (["--ray", "--ray-cpus-per-worker", "-0.5"], "--ray-cpus-per-worker must be at least 0, found -0.5"),
    (["--ray-workers", "x"], "--ray-workers: invalid int value 'x' (see python -m reasonrank_ir.search --help)"),
])
def test_ray_flags_are_checked_by_their_declaration(argv, error, capsys):
    from reasonrank_ir.search import main

    assert main(["--index", "cranfield", "--rerank", "oracle", *argv]) == 2
    assert capsys.readouterr().err == f"error: {error}\n"
