"""Syndicated copies: the same wire story under another headline, dateline and site chrome is
recorded as another source of the indexed article (real Chroma, real embeddings)."""

import pytest

from assistant.library.duplicates import CACHE_FILE, CopyFinder, shingles, signature

pytestmark = pytest.mark.slow

WIRE = [
    "The regional harbour authority voted on Tuesday to approve a new deep-water berth",
    "for container ships at the eastern quay, ending three years of planning disputes.",
    "The berth will be built by a consortium of two local firms and is expected to open",
    "in the spring of next year, according to the authority's chief engineer, Mara Lind.",
    "Lind told reporters that dredging would begin within six weeks and that the work",
    "would not close the ferry terminal at any point during the construction period.",
    "Fishermen who had opposed the plan said they would watch the dredging closely,",
    "because the channel near the old lighthouse is where the cod come to spawn.",
    "The authority promised a monitoring station staffed by marine biologists from the",
    "university, who will publish their measurements of silt every fortnight online.",
    "Shipping companies welcomed the decision, saying the current berth is too shallow",
    "for the newest vessels, which now unload at ports two hundred kilometres south.",
    "The project is budgeted at eighty-four million dollars, most of it from a federal",
    "infrastructure fund, with the remainder raised through a bond sold last autumn.",
    "Council members asked the authority to hire local workers for at least half of",
    "the jobs, a condition the consortium accepted in a letter read out at the meeting.",
    "Residents of the eastern quay neighbourhood raised concerns about lorry traffic",
    "and night-time noise, and the authority agreed to limit deliveries to daytime.",
    "A public information office will open next month in the former customs house,",
    "where drawings of the berth and the dredging schedule can be seen by anyone.",
]
STORY = "\n".join(WIRE)


def site_a(story: str = STORY) -> str:
    return (
        "Harbour authority approves deep-water berth\n\n"
        "HALIFAX (Coastal Wire) —\n" + story + "\n\nSign up for our morning newsletter.\n"
    )


def site_b(story: str = STORY) -> str:
    return (
        "Container ships to get new berth after years of disputes\n\n"
        "Advertisement\n\nHALIFAX, Nova Scotia —\n"
        + story
        + "\n\nRead more: ferry timetables for the summer season.\n"
    )


OTHER = (
    "Ferry timetables change for summer\n\nHALIFAX (Coastal Wire) —\n"
    "The ferry operator published its summer timetable on Monday, adding two late crossings\n"
    "on Fridays and Saturdays and a direct service to the islands on Sunday mornings.\n"
    "Tickets for the late crossings go on sale next week at the terminal and online,\n"
    "and season passes for commuters will cost the same as last year, the operator said.\n"
    "\n\nSign up for our morning newsletter.\n"
)


def test_shingles_fold_case_and_accents():
    assert shingles("Café OPENS today") == shingles("cafe opens TODAY") == {b"cafe opens today"}
    assert signature("too short to compare") is None
    finder = CopyFinder(0.8)
    finder.add("a", signature(site_a()))
    assert finder.find(signature(site_b())) == "a"
    assert finder.find(signature(site_b()), exclude={"a"}) is None
    assert finder.find(signature(OTHER)) is None


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def test_a_syndicated_copy_is_another_source_not_another_article(make_assistant, tmp_path):
    assistant = make_assistant()
    first = write(tmp_path / "a", "berth.txt", site_a())
    assert assistant.index([first]).added == 1
    copy = write(tmp_path / "b", "berth-copy.txt", site_b())
    report = assistant.index([copy, write(tmp_path / "c", "ferry.txt", OTHER)])
    assert (report.added, report.merged, report.chunks > 0) == (1, 1, True)
    [berth] = [s for s in assistant.sources() if s.title.startswith("Harbour")]
    assert berth.sources == [first, copy]
    passages, _ = assistant.retriever.search("deep-water berth dredging cod spawn", 10)
    berth_docs = {p.metadata["doc_id"] for p in passages} - {
        s.doc_id for s in assistant.sources() if s.title.startswith("Ferry")
    }
    assert berth_docs == {berth.doc_id}  # never both copies
    # a copy is found again from the store when the signature cache is gone
    (assistant.settings.index_dir / CACHE_FILE).unlink()
    third = write(tmp_path / "d", "berth-3.txt", site_b().replace("Advertisement", "Sponsored"))
    assert make_assistant().index([third]).merged == 1
    # removing one source keeps the article while another remains
    assert assistant.remove_matching(first) == ([], [berth.doc_id])
    assistant.remove_matching(third)
    [kept] = [s for s in assistant.sources() if s.doc_id == berth.doc_id]
    assert kept.sources == [copy]
    assert assistant.remove(copy) == [berth.doc_id]
    assert all(s.doc_id != berth.doc_id for s in assistant.sources())


def test_an_edited_article_is_updated_not_merged_into_its_old_version(make_assistant, tmp_path):
    assistant = make_assistant()
    path = write(tmp_path / "a", "berth.txt", site_a())
    assistant.index([path])
    edited = STORY.replace("eighty-four million", "ninety-one million")
    write(tmp_path / "a", "berth.txt", site_a(edited))
    report = assistant.index([path])
    assert (report.updated, report.merged, report.removed) == (1, 0, 0)
    [only] = assistant.sources()
    assert "ninety-one million" in assistant.store.get_document(only.doc_id).text


def test_merging_can_be_turned_off(make_assistant, tmp_path):
    assistant = make_assistant(duplicate_threshold=0)
    report = assistant.index(
        [write(tmp_path / "a", "a.txt", site_a()), write(tmp_path / "b", "b.txt", site_b())]
    )
    assert (report.added, report.merged) == (2, 0)


def test_saved_signatures_load_back_and_spare_the_next_run_signing_again(tmp_path):
    """The cache is read on every index run; one that never loads signs every indexed
    article again each time (about a minute at 100k chunks)."""
    from assistant.library.duplicates import _load

    finder = CopyFinder(0.8)
    finder.add("a", signature(site_a()))
    finder.add("short", None)
    finder.save(tmp_path)
    loaded = _load(tmp_path / CACHE_FILE)
    assert loaded.keys() == {"a", "short"} and loaded["short"] is None
    assert loaded["a"].jaccard(signature(site_a())) == 1.0
