"""ReasonRank prompts, byte for byte, with the real Qwen2.5 tokenizer and chat template.

The expected strings are written out by hand from the released prompts (REFERENCE.md section 1),
never produced by the code under test.
"""
from __future__ import annotations

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.rerank.prompts import (
    PassageFormatter, answer_format, build_messages, clean_query, fix_text, passage_text, render,
)
from conftest import CRANFIELD_DATA

REASONING_SYSTEM = (
    "You are RankLLM, an intelligent assistant that can rank passages based on their relevance to the "
    "query. Given a query and a passage list, you first thinks about the reasoning process in the mind and "
    "then provides the answer (i.e., the reranked passage list). The reasoning process and answer are "
    "enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>."
)

DOCS = [
    {"title": "Phototaxis", "contents": "Insects [12] are drawn to light."},
    {"text": "  Moths navigate by the moon [3].\n", "title": ""},
    {"contents": "CafÃ© lights attract “many” moths."},
]
QUERY = "Why do insects [1] fly toward light? "


def test_reasoning_prompt_golden(qwen_tokenizer):
    passages = PassageFormatter(qwen_tokenizer, 512).format_many(DOCS)
    prompt = render(build_messages(QUERY, passages), qwen_tokenizer)
    expected = (
        "<|im_start|>system\n"
        + REASONING_SYSTEM
        + "<|im_end|>\n"
        "<|im_start|>user\n"
        "I will provide you with 3 passages, each indicated by a numerical identifier []. Rank the passages "
        "based on their relevance to the search query: Why do insects (1) fly toward light?.\n"
        "\n"
        "[1] Title: Phototaxis Content: Insects (12) are drawn to light.\n"
        "[2] Moths navigate by the moon (3).\n"
        '[3] Café lights attract "many" moths.\n'
        "Search Query: Why do insects (1) fly toward light?.\n"
        "Rank the 3 passages above based on their relevance to the search query. All the passages should be "
        "included and listed using identifiers, in descending order of relevance. The format of the answer "
        "should be [] > [], e.g., [2] > [1].<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompt.text == expected
    assert [m.role for m in prompt.messages] == ["system", "user"]
    assert prompt.messages[0].content == REASONING_SYSTEM
    assert prompt.messages[1].content.endswith("e.g., [2] > [1].")  # no newline after the instruction


def test_rankgpt_and_qwen3_prompts(qwen_tokenizer):
    system, user = build_messages("q [7]", ["first", "second"], style="rankgpt")
    assert system.content == (
        "You are RankLLM, an intelligent assistant that can rank passages based on their relevance to the query."
    )
    assert user.content == (
        "I will provide you with 2 passages, each indicated by a numerical identifier []. Rank the passages "
        "based on their relevance to the search query: q (7).\n"
        "\n"
        "[1] first\n"
        "[2] second\n"
        "Search Query: q (7).\n"
        "Rank the 2 passages above based on their relevance to the search query. All the passages should be "
        "included and listed using identifiers, in descending order of relevance. The output format should be "
        "[] > [], e.g., [2] > [1]. Only respond with the ranking results, do not say any word or explain."
    )
    qwen3_system, qwen3_user = build_messages("q", ["only"], style="qwen3")
    assert qwen3_system == system
    assert qwen3_user.content == (
        "I will provide you with 1 passages, each indicated by a numerical identifier []. Rank the passages "
        "based on their relevance to the search query: q.\n"
        "\n"
        "[1] only\n"
        "Search Query: q.\n"
        "Rank the 1 passages above based on their relevance to the search query. All the passages should be "
        "included and listed using identifiers, in descending order of relevance. The final ranked list should "
        "be enclosed within <answer> </answer> tags, i.e., <answer> ranked list here </answer>. The format of "
        "ranked list should be [] > [], e.g., [2] > [1]. Only respond with the ranking results, do not say any "
        "word or explain."
    )
    with pytest.raises(ReasonRankError, match="Did you mean: rankgpt"):
        build_messages("q", ["p"], style="rankgtp")


def test_truncation_at_max_length_tokens(qwen_tokenizer):
    formatter = PassageFormatter(qwen_tokenizer, 5)
    assert formatter.format({"contents": "one two three four five six seven"}) == "one two three four five"
    # Qwen splits "alpha [12]" into alpha, " [", "1", "2", "]": numbers are replaced after truncation.
    assert PassageFormatter(qwen_tokenizer, 4).format({"text": "alpha [12] beta"}) == "alpha [12"
    assert PassageFormatter(qwen_tokenizer, 5).format({"text": "alpha [12] beta"}) == "alpha (12)"
    # The title counts towards the budget: "Title: T Content: body words".
    assert PassageFormatter(qwen_tokenizer, 6).format({"title": "T", "text": "body words here"}) == "Title: T Content: body"


def test_format_many_equals_upstream_per_passage(qwen_tokenizer):
    """Batched tokenization gives upstream's convert_tokens_to_string(tokenize(text)[:n]) exactly."""
    raw = (CRANFIELD_DATA / "cran.all.1400").read_text()
    docs = [{"contents": raw[i * 3000:(i + 1) * 3000]} for i in range(30)]
    docs += [{"text": "naïve café — ½ 东京 🙂 " * 60}, {"text": ""}, {"body": "x [1]"}, {"passage": "Ã©t\u00e9"}]
    for length in (7, 100, 512):
        formatter = PassageFormatter(qwen_tokenizer, length)
        upstream = [
            qwen_tokenizer.convert_tokens_to_string(qwen_tokenizer.tokenize(passage_text(d))[:length])
            .replace("[1]", "(1)")
            for d in docs
        ]
        assert formatter.format_many(docs) == upstream
        assert [formatter.format(d) for d in docs] == upstream
    assert len(qwen_tokenizer.tokenize(PassageFormatter(qwen_tokenizer, 100).format(docs[0]))) in range(95, 106)


def test_passage_field_choice_and_title_rule():
    # first present field wins, even over a longer later one (upstream checks presence, not length)
    assert passage_text({"segment": "seg", "contents": "contents", "body": "b"}) == "seg"
    assert passage_text({"contents": "c", "text": "t"}) == "t"
    assert passage_text({"title": "A title", "body": " b "}) == "Title: A title Content:  b"
    assert passage_text({"title": None, "passage": " p "}) == "p"
    assert passage_text({"title": "", "contents": "c"}) == "c"
    with pytest.raises(ReasonRankError, match="found: title, id"):
        passage_text({"title": "t", "id": "d1"})


def test_clean_query_and_answer_format():
    assert clean_query("  what is [12] and [x] or [3a]? ") == "what is (12) and [x] or [3a]?"
    assert answer_format([3, 1, 2]) == "[3] > [1] > [2]"


_PIECES = st.sampled_from([
    "plain ascii words", "<b>", "&amp;", "&lt;tag&gt;", "\n", "\r\n", "\r", "\t", "CafÃ©", "â€™", "“", "”",
    "ﬁ", "ｆｕｌｌ", "\x1b[31m", "\x00", "\x85", "e\u0301", "naïve", "Ã", " ", "Ã©tÃ©", "&", "<", "[12]",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30))
def test_fix_text_is_exactly_ftfy(pieces):
    text = "".join(pieces)
    assert fix_text(text) == ftfy.fix_text(text)


def test_fix_text_fast_path_on_a_rendered_prompt(qwen_tokenizer):
    raw = (CRANFIELD_DATA / "cran.all.1400").read_text()[:60000] + "\nCafÃ© &amp; “x”\n"
    prompt = render(build_messages("q &amp; r", [raw, "Ã©"]), qwen_tokenizer).text
    assert prompt == ftfy.fix_text(qwen_tokenizer.apply_chat_template(
        [{"role": "system", "content": REASONING_SYSTEM}, {"role": "user", "content": build_messages(
            "q &amp; r", [raw, "Ã©"])[1].content}], tokenize=False, add_generation_prompt=True))
    assert "Café &amp; \"x\"" in prompt
