"""Uploads: server-side checks, sanitised names, and adding files or pasted text."""

import os
import stat

import pytest

from assistant.library.uploads import UploadError, check_upload, pasted_article, safe_filename

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
MB = 1024 * 1024
ARTICLE = (
    "Harbor bridge to close for repairs\n\n"
    "City engineer Dana Whitfield said the Harbor Bridge will close for six weeks of repairs "
    "starting in March.\n\nCommuters will be sent over the Old Mill crossing instead.\n"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.ini.md", "win_ini.md"),
        (".env", "article.env"),
        ("My Article (final).HTML", "My_Article_final.html"),
        ("/abs/path/x.txt", "x.txt"),
        ("", "article"),
        ("Ünïcode—title.md", "Unicode_title.md"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize(
    ("name", "head", "reason"),
    [
        ("tool.txt", ELF, "Linux executable"),
        ("setup.txt", b"MZ\x90\x00", "Windows executable"),
        ("run.md", b"#!/bin/sh\nrm -rf /\n", "script"),
        ("data.txt", b"abc\x00def", "binary data"),
        ("pic.html", b"\x89PNG\r\n", "PNG image"),
        ("prog.exe", b"hello", "not accepted"),
        ("noext", b"hello", "not accepted"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(name, head, reason):
    with pytest.raises(UploadError, match=reason):
        check_upload(name, head, len(head), MB)


def test_size_limits():
    with pytest.raises(UploadError, match="over the"):
        check_upload("big.txt", b"a", 20 * MB + 1, 20 * MB)
    with pytest.raises(UploadError, match="empty"):
        check_upload("empty.txt", b"", 0, MB)
    assert check_upload("ok.TXT", b"Title\n\nBody", 11, MB) == ".txt"


def test_pasted_text_needs_text_and_a_one_paragraph_brief_is_enough():
    with pytest.raises(UploadError, match="paste some"):
        pasted_article("Title", "   ", MB)
    name, data = pasted_article("", "Ferry service resumes. Boats run hourly.", MB)
    assert name.startswith("Ferry_service_resumes") and data.decode().startswith("Ferry")
    name, data = pasted_article("Bridge closes", "The bridge closes.", MB)
    assert name.startswith("Bridge_closes-") and name.endswith(".txt")
    assert data.decode().startswith("Bridge closes\n\nThe bridge closes.")


@pytest.mark.slow
def test_add_files_stores_good_files_and_refuses_bad_ones(make_assistant, tmp_path):
    assistant = make_assistant()
    good, evil = tmp_path / "bridge.txt", tmp_path / "evil.txt"
    good.write_text(ARTICLE)
    evil.write_bytes(ELF)
    report = assistant.add_files([(good, "../../bridge.txt"), (evil, "evil.txt")])
    assert (report.added, [e.path for e in report.errors]) == (1, ["evil.txt"])
    stored = sorted(p.name for p in assistant.upload_folder.iterdir())
    assert stored == ["bridge.txt"]
    mode = os.stat(assistant.upload_folder / "bridge.txt").st_mode
    assert not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    answer = assistant.ask("How long will the Harbor Bridge close?")
    assert not answer.abstained and "six weeks" in answer.answer
    assert answer.citations[0].source.endswith("uploads/bridge.txt")

    again = assistant.add_files([(good, "bridge.txt")])
    assert (again.added, again.unchanged) == (0, 1)
    good.write_text(ARTICLE.replace("six weeks", "eight weeks"))
    changed = assistant.add_files([(good, "bridge.txt")])
    assert changed.updated == 1 and len(assistant.sources()) == 1


@pytest.mark.slow
def test_add_text_is_answerable_at_once_and_bad_text_changes_nothing(make_assistant):
    assistant = make_assistant()
    with pytest.raises(UploadError):
        assistant.add_text("", "Title only")
    assert assistant.sources() == [] and not assistant.upload_folder.exists()
    title, _, body = ARTICLE.partition("\n\n")
    report = assistant.add_text(body, title)
    assert report.added == 1 and not report.errors
    assert [s.title for s in assistant.sources()] == [title]
    answer = assistant.ask("Which crossing will commuters use instead?")
    assert "Old Mill" in answer.answer
