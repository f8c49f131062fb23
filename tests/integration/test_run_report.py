"""The run report of a real rolling maintenance run, rendered by a real browser (headless Chromium).

The playbook maintains two hosts of the test cloud with reference VNFMs
answering; the finish play writes the report beside the journal. Chromium
(Debian's package, installed by scripts/browser) then opens the HTML page and
the SVG timeline: the rows of every host and project must be in the DOM it
built, and its screenshots must be pictures of the expected size showing the
phase colours.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
import zlib
from html.parser import HTMLParser

import pytest

from conftest import CLOUDCTL
from test_rolling_maintenance import Run, run_then_stop, start_vnfms, webhook_urls

from ansible_collections.fenix.maintenance.plugins.module_utils.journal.store import Journal
from ansible_collections.fenix.maintenance.plugins.module_utils.report.build import build_report
from ansible_collections.fenix.maintenance.plugins.module_utils.report.render import PHASE_COLOURS
from ansible_collections.fenix.maintenance.plugins.module_utils.report.report import render

SESSION = "e2e-report"
HOSTS = ["compute1", "compute2"]
WINDOW = (1280, 1000)


def chromium(*args: str, cwd: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is missing: scripts/browser installs it (scripts/test runs it)")
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=%d,%d" % WINDOW, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=True)


class Rows(HTMLParser):
    """The timeline rows in a DOM: data-host / data-project of every <g class="row host|project">."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = {"host": [], "project": []}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "g" and "row" in classes:
            for kind in self.rows:
                if kind in classes:
                    self.rows[kind].append(attrs["data-" + kind])


def rows_in(dom: str) -> dict:
    parser = Rows()
    parser.feed(dom)
    return parser.rows


def png_pixels(path: str):
    """(width, height, set of RGB colours) of an 8-bit RGB or RGBA PNG, decoded with the standard library."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour_type, _compression, _filter, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    colours = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        colours.update(bytes(line[i:i + 3]) for i in range(0, stride, channels))
        previous = line
    return width, height, colours


def has_colour(colours: set, hex_colour: str, tolerance: int = 4) -> bool:
    wanted = bytes.fromhex(hex_colour.lstrip("#"))
    return any(all(abs(a - b) <= tolerance for a, b in zip(colour, wanted)) for colour in colours)


@pytest.fixture
def maintained(tmp_path, test_cloud):
    """A real run of the rolling maintenance over two hosts of a freshly seeded cloud; (run, output, seed)."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        seed = json.load(handle)
    vnfms = start_vnfms(tmp_path, seed, {"tenant-a": "live_migrate", "tenant-b": "migrate", "tenant-c": "migrate"})
    run = Run(tmp_path, SESSION, webhook_urls(seed, vnfms), rolling_maintenance_hosts=HOSTS)
    code, output = run_then_stop(run, vnfms)
    assert code == 0, output[-3000:]
    return run, output, seed


def test_a_real_run_writes_a_report_a_browser_renders(maintained, tmp_path):
    run, output, seed = maintained
    reports = os.path.join(str(tmp_path), "reports")
    paths = {name: os.path.join(reports, "%s.%s" % (SESSION, ext))
             for name, ext in (("json", "json"), ("markdown", "md"), ("html", "html"), ("svg", "svg"))}
    for path in paths.values():
        assert os.path.getsize(path) > 0, path
    # The summary printed at the end of the play, and the run's stats, name the report.
    assert paths["html"] in output

    journal = Journal(run.journal)
    projects = sorted(record.project_id for record in journal.projects(SESSION))
    assert projects and set(projects) <= set(seed["projects"].values())
    with open(paths["json"]) as handle:
        report = json.load(handle)
    assert report["session"]["state"] == "MAINTENANCE_DONE"
    assert [host["host"] for host in report["hosts"]] == HOSTS
    assert sorted(project["project_id"] for project in report["projects"]) == projects
    # Every server the seed put on a maintained host left it, and each of those moves is a tick on that host.
    for host in HOSTS:
        seeded = {server["id"] for server in seed["servers"] if server["host"] == host}
        ticked = {move["instance_id"] for move in report["moves"] if move["from_host"] == host}
        assert seeded and seeded <= ticked, host
        phases = [phase["phase"] for phase in next(h for h in report["hosts"] if h["host"] == host)["phases"]]
        assert phases == ["disabled", "emptying", "plugins", "enabled"], (host, phases)
    assert all(move["state"] == "DONE" and move["seconds"] > 0 for move in report["moves"])

    # How big and how quick the report is, from the journal of this run.
    started = time.monotonic()
    documents = render(build_report(journal, SESSION))
    print("report of %d hosts, %d moves, %d projects: %.3f s; %s" % (
        len(report["hosts"]), len(report["moves"]), len(projects), time.monotonic() - started,
        ", ".join("%s %d bytes" % (name, os.path.getsize(path)) for name, path in sorted(paths.items()))))
    with open(paths["html"]) as handle:
        assert handle.read() == documents["html"], "the file is not what the journal gives now"

    # The browser's DOM has a row for every host and every project, in the page and in the picture.
    for name in ("html", "svg"):
        dom = chromium("--dump-dom", os.path.basename(paths[name]), cwd=reports).stdout
        assert rows_in(dom) == {"host": HOSTS, "project": projects}, name
    # The page needs nothing from elsewhere.
    with open(paths["html"]) as handle:
        page = handle.read()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page

    # Its screenshots are pictures of the window's size, showing the phases' colours.
    for name in ("html", "svg"):
        shot = os.path.join(reports, "%s-screenshot.png" % name)
        chromium("--screenshot=%s" % shot, os.path.basename(paths[name]), cwd=reports)
        width, height, colours = png_pixels(shot)
        assert (width, height) == WINDOW, name
        assert len(colours) > 20, "%s: the screenshot is (nearly) blank: %d colours" % (name, len(colours))
        missing = [phase for phase, colour in PHASE_COLOURS.items() if not has_colour(colours, colour)]
        assert missing == [], "%s: no pixel of the phases %s" % (name, missing)
    keep = os.environ.get("FENIX_REPORT_KEEP")
    if keep:
        shutil.copytree(reports, keep, dirs_exist_ok=True)


def test_a_failed_run_writes_its_report_too(tmp_path, test_cloud):
    """tenant-a agrees to the maintenance, then says NACK when its servers are to move: the batch fails."""
    subprocess.run([CLOUDCTL, "seed"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(test_cloud, "seed.json")) as handle:
        seed = json.load(handle)
    vnfms = start_vnfms(tmp_path, seed, {"tenant-a": "nack", "tenant-b": "migrate", "tenant-c": "migrate"},
                        extra={"tenant-a": ["--state-policy", "MAINTENANCE=live_migrate"]})
    session_id = "e2e-report-failed"
    run = Run(tmp_path, session_id, webhook_urls(seed, vnfms))
    code, output = run_then_stop(run, vnfms)
    assert code != 0
    reports = os.path.join(str(tmp_path), "reports")
    html = os.path.join(reports, session_id + ".html")
    assert "The run report: " + html in output.replace("\n", " ")
    with open(os.path.join(reports, session_id + ".json")) as handle:
        report = json.load(handle)
    session = run.session()
    assert report["session"]["state"] == session.state == "MAINTENANCE_FAILED"
    assert "NACK" in report["session"]["reason"]
    failed = [host for host in report["hosts"] if host["failed_at"]]
    assert failed and all(host["state"] == "FAILED" for host in failed)
    # The failed host was given back: its last phase is "enabled".
    assert all(host["phases"][-1]["phase"] == "enabled" for host in failed)
    nacks = [reply for project in report["projects"] for reply in project["replies"] if reply["reply"].startswith("NACK_")]
    assert [project["project_id"] for project in report["projects"] if any(
        reply["reply"].startswith("NACK_") for reply in project["replies"])] == [seed["projects"]["tenant-a"]]
    assert nacks
    dom = chromium("--dump-dom", os.path.basename(html), cwd=reports).stdout
    rows = rows_in(dom)
    assert rows["host"] == [host["host"] for host in report["hosts"]]
    assert sorted(rows["project"]) == sorted(record.project_id for record in Journal(run.journal).projects(session_id))
    assert 'class="failure"' in dom
