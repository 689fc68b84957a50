"""The ingest path on a real SQLite file and a real FAISS index on disk, with the real embedder."""

import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.core.config import Settings, resolve_paths
from bot.core.models import RawEntry
from bot.ingest.normalize import normalize
from bot.ingest.pipeline import open_pipeline

NOW = datetime(2024, 12, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def paths(tmp_path):
    return resolve_paths(tmp_path / "data")


@pytest.fixture
def open_(paths, embedder):
    opened = []

    def _open():
        pipeline, repair = open_pipeline(Settings(), paths, embedder=embedder)
        opened.append(pipeline)
        return pipeline, repair

    yield _open
    for pipeline in opened:
        pipeline.store.close()


def raw(source, title, link, summary="", guid="", hours=0, **extra):
    return RawEntry(
        source=source,
        title=title,
        link=link,
        guid=guid or link,
        summary_html=summary,
        fetched_at=NOW,
        published=NOW - timedelta(hours=hours),
        **extra,
    )


ENTRIES = [
    raw(
        "lab_blog",
        "A new open-weight reasoning model",
        "https://lab.example/blog/reasoning",
        "<p>The lab releases a reasoning model trained with reinforcement learning.</p>",
        hours=5,
    ),
    raw(
        "cn_media",
        "实验室发布开源推理模型",
        "https://cn.example/a/1001?utm_source=rss",
        "该模型通过强化学习训练，擅长数学与代码推理。",
        hours=3,
    ),
    raw(
        "cn_media",
        "广告自动出价的新方法：用扩散模型生成出价轨迹",
        "https://cn.example/a/1002",
        "研究者将自动出价建模为轨迹生成问题。",
        hours=2,
    ),
    raw(
        "papers",
        "Diffusion Models for Auto-Bidding in Online Advertising",
        "http://arxiv.org/abs/2412.04321v1",
        "We model auto-bidding as trajectory generation with a diffusion model.",
        hours=8,
    ),
]


def nearest(pipeline, text, k):
    """(item id, cosine) of the k items nearest to `text` in the FAISS index on disk."""
    scores, ids = pipeline.index.search(pipeline.embedder.encode([text]), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def count(paths, sql):
    with sqlite3.connect(paths.db) as db:
        return db.execute(sql).fetchone()[0]


def test_ingest_stores_items_vectors_and_text_index(open_, paths):
    pipeline, _ = open_()
    reports = pipeline.ingest(ENTRIES)
    assert {name: r.new for name, r in reports.items()} == {"lab_blog": 1, "cn_media": 2, "papers": 1}
    assert pipeline.store.count_items() == 4
    assert len(pipeline.index) == 4
    assert count(paths, "SELECT count(*) FROM vectors") == 4
    assert len(pipeline.store.search_text("扩散模型")) == 1
    stored = pipeline.store.get_items(pipeline.store.search_text("Auto-Bidding"))[0]
    assert (stored.arxiv_id, stored.url) == ("2412.04321", "https://arxiv.org/abs/2412.04321")


def test_reingesting_the_same_entries_adds_nothing(open_, paths):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)
    stamps = count(paths, "SELECT group_concat(updated_at) FROM (SELECT updated_at FROM stories ORDER BY id)")
    time.sleep(1.1)  # updated_at has whole seconds: a refresh now would show
    reports = pipeline.ingest(ENTRIES)
    assert sum(r.new for r in reports.values()) == 0
    assert sum(r.duplicate for r in reports.values()) == 4
    assert pipeline.store.count_items() == 4 and len(pipeline.index) == 4
    # a feed listing the same items again is not news: the stories' "updated" stays, so digests,
    # alerts and topics do not take them for changed ones
    assert count(paths, "SELECT group_concat(updated_at) FROM (SELECT updated_at FROM stories ORDER BY id)") == stamps


def test_same_url_from_two_sources_is_one_item_with_both_sources(open_):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES[1:2])
    repost = raw("aggregator", "转载｜实验室发布开源推理模型", "https://CN.example/a/1001#top", "转载自 cn_media")
    report = pipeline.ingest([repost])["aggregator"]
    assert (report.new, report.duplicate) == (0, 1)
    item_id = pipeline.store.search_text("开源推理模型")[0]
    assert {source for source, _ in pipeline.store.item_sources(item_id)} == {"cn_media", "aggregator"}
    assert (
        pipeline.store.get_items([item_id])[0].title == "实验室发布开源推理模型"
    )  # another outlet's wording does not overwrite


def test_duplicates_inside_one_batch_are_merged(open_):
    pipeline, _ = open_()
    twice = [ENTRIES[0], raw("mirror", "Mirror of the post", "https://lab.example/blog/reasoning?utm_campaign=x")]
    reports = pipeline.ingest(twice)
    assert reports["lab_blog"].new == 1 and reports["mirror"].duplicate == 1
    assert pipeline.store.count_items() == 1


def test_new_arxiv_version_updates_the_item_in_place(open_):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES[3:])
    v2 = raw(
        "papers",
        "DiffBid v2: Generative Auto-Bidding with Diffusion and Budget Constraints",
        "http://arxiv.org/abs/2412.04321v2",
        "Revised: adds budget pacing constraints and new experiments.",
    )
    report = pipeline.ingest([v2])["papers"]
    assert (report.new, report.updated) == (0, 1)
    [item] = pipeline.store.get_items(pipeline.store.search_text("budget pacing"))
    assert item.arxiv_version == 2 and item.title.startswith("DiffBid v2")
    assert pipeline.store.count_items() == 1 and len(pipeline.index) == 1
    [(item_id, score)] = nearest(pipeline, item.embed_text, k=1)
    assert item_id == item.id and score > 0.99  # the vector was replaced too
    old = raw("papers", "stale v1 seen again", "http://arxiv.org/abs/2412.04321v1", "old text")
    assert pipeline.ingest([old])["papers"].updated == 0


def test_an_edit_by_the_items_own_source_updates_it(open_):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES[:1])
    edited = raw(
        "lab_blog",
        "A new open-weight reasoning model (updated)",
        "https://lab.example/blog/reasoning",
        "<p>Now with a technical report.</p>",
        hours=5,
    )
    assert pipeline.ingest([edited])["lab_blog"].updated == 1
    assert pipeline.store.get_items([1])[0].title.endswith("(updated)")


def test_entries_without_any_text_are_skipped(open_):
    pipeline, _ = open_()
    report = pipeline.ingest([raw("empty", "", "https://e.example/1")])["empty"]
    assert (report.new, report.skipped) == (0, 1)


def test_restart_reuses_the_saved_index(open_, paths):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)
    pipeline.close()
    again, repair = open_()
    assert not repair.rebuilt and not repair.reason
    assert again.store.count_items() == 4 and len(again.index) == 4
    assert sum(r.new for r in again.ingest(ENTRIES).values()) == 0


def test_deleted_index_is_rebuilt_from_the_store(open_, paths):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)
    before = {item_id for item_id, _ in nearest(pipeline, "auto-bidding with diffusion", k=2)}
    pipeline.close()
    shutil.rmtree(paths.index_dir)
    again, repair = open_()
    assert repair.rebuilt and repair.added == 4
    assert {item_id for item_id, _ in nearest(again, "auto-bidding with diffusion", k=2)} == before
    assert sorted(again.index.ids().tolist()) == [1, 2, 3, 4]


def test_index_behind_the_store_is_repaired_on_open(open_, paths):
    """A crash after the batch committed but before the index was saved."""
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES[:2])
    pipeline.save_index()
    pipeline.ingest(ENTRIES[2:])  # committed to SQLite, index not saved: the process "dies" here
    again, repair = open_()
    assert (repair.rebuilt, repair.added, repair.removed) == (False, 2, 0)
    assert sorted(again.index.ids().tolist()) == [1, 2, 3, 4]


def test_index_ahead_of_the_store_drops_unknown_ids(open_, paths):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)
    pipeline.index.add(np.array([99], dtype=np.int64), np.ones((1, 512), dtype=np.float32) / np.sqrt(512))
    pipeline.save_index()
    again, repair = open_()
    assert repair.removed == 1 and 99 not in again.index.ids()


def test_cross_lingual_search_finds_the_other_language(open_):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)
    hits = nearest(pipeline, "auto-bidding for online ads with diffusion models", k=2)
    assert {item.lang for item in pipeline.store.get_items([item_id for item_id, _ in hits])} == {"zh", "en"}


def test_retention_prunes_old_stories_everywhere_and_keeps_them_out(open_, paths):
    pipeline, _ = open_()
    pipeline.ingest(ENTRIES)  # two stories: the reasoning model (newest item 3 h old), the bidding paper (2 h)
    assert pipeline.store.count_stories() == 2
    reasoning = pipeline.store.search_text("开源推理模型") + pipeline.store.search_text("open-weight reasoning")
    assert pipeline.prune(NOW - timedelta(hours=2, minutes=30)) == 2
    assert pipeline.store.count_stories() == 1 and pipeline.store.count_items() == 2
    assert not set(pipeline.index.ids().tolist()) & set(reasoning)
    assert count(paths, "SELECT count(*) FROM vectors") == 2
    assert count(paths, f"SELECT count(*) FROM item_keys WHERE item_id IN ({','.join(map(str, reasoning))})") == 0
    assert pipeline.store.search_text("开源推理模型") == []  # gone from the text index too
    assert len(pipeline.store.search_text("Auto-Bidding")) == 1  # the newer story stays

    pipeline.retention = timedelta(days=365)
    ancient = raw("archive", "A post from two years ago", "https://lab.example/old", hours=2 * 365 * 24)
    report = pipeline.ingest([ancient])["archive"]
    assert (report.new, report.skipped) == (0, 1)  # a back catalogue is not ingested only to be pruned


LONG_ZH_PARAGRAPHS = (
    "转载｜本文来自微信公众号「智能前线」，作者：李明，编辑：王芳，原文标题有删改。题图来自视觉中国，"
    "文中观点仅代表作者本人，不构成任何投资建议。本文约四千字，阅读需要十分钟。"
    "过去一年，国内外的大模型公司都在争夺同一批人才：能训练千亿参数模型的工程师、懂得数据配比的研究员，"
    "以及真正把模型做成产品的负责人。猎头们说，这样的人在全世界不超过几百位，而每一家公司都想要他们。"
    "一家头部猎头公司的合伙人告诉我们，今年他们经手的大模型岗位数量是去年的三倍，候选人的平均薪酬上涨了四成，"
    "而真正能拍板的人选依然屈指可数，很多职位挂出半年也没有找到合适的人。",
    "从去年开始，算力成本一路走高，训练一个前沿模型动辄需要上万张加速卡和数亿美元的投入。"
    "融资环境的变化让不少创业公司开始重新思考路线：有的转向垂直行业，有的专注推理效率，"
    "也有公司选择与云厂商深度绑定，以换取稳定的算力供给。与此同时，开源模型的进步让闭源模型的领先窗口越来越短，"
    "各家都在寻找新的差异化方向，而人才正是其中最稀缺、也最难复制的资源。"
    "一位接近多家公司的投资人表示，今年上半年高管和核心研究员的流动明显加快，不少团队在短短几个月内就经历了大的调整。"
    "在他看来，决定一家公司能走多远的，不是某一次发布会上的榜单成绩，而是能否留住那几位真正懂得如何训练模型的人。"
    "这种判断正在影响公司的组织方式：更小的核心团队、更长的期权归属期，以及越来越多由研究员直接负责的产品线。",
    "据知情人士透露，前 Vega AI 首席科学家陈思远已正式加入 Quillon，出任首席技术官，负责下一代大模型的研发。",
    "陈思远此前在 Vega AI 工作五年，主导了多个开源模型的训练。Quillon 方面确认了这一消息，但未透露更多细节。",
)


def test_a_move_in_the_third_paragraph_of_a_long_chinese_article_is_found(open_):
    """Real Chinese tech articles run long and open with preamble; the move is stated further down."""
    body = "".join(f"<p>{paragraph}</p>" for paragraph in LONG_ZH_PARAGRAPHS)
    assert "".join(LONG_ZH_PARAGRAPHS).index("陈思远已正式加入") > 600  # past the first few hundred characters
    pipeline, _ = open_()
    entry = raw(
        "36kr", "大模型人才流动加速：一位首席科学家的新选择", "https://36kr.example/p/talent", body, lang_hint="zh"
    )
    pipeline.ingest([entry])
    (item_id,) = set(pipeline.store.lookup_keys(normalize(entry).identities()).values())
    moves = pipeline.store.item_story_views([item_id])[item_id].item_moves
    assert [(m["person"], m["to_org"], m["action"]) for m in moves] == [("陈思远", "Quillon", "join")]
