#!/usr/bin/env python3
"""liveview_cdp.py: drives the coordinator's live view in headless Chromium over the DevTools
protocol (--remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4; no
websocket library, no open port), as an operator would: real mouse clicks and typing.

  liveview_cdp.py --chromium BIN --url URL --token-file F --migration NAME --out DIR STEP...

Steps, run in order (any failure exits 1 with the reason):
  token            click the token field, type the token, click Connect
  wait-migration   until the migration's card shows backfill progress (rows > 0)
  capture:NAME     save the DOM to DIR/NAME.html (and its facts to DIR/NAME.json)
  sleep:SECONDS
  screenshot:FILE  PNG of the page (FILE relative to DIR unless absolute)
  op:OP            click the card's OP button (pause, resume, abort), then Confirm in the dialog
  wait-status:S[|S2...]  until the card's status is one of them
  wait-progress    until the card's rows exceed those of the last capture
  wait-hold:TEXT   until the card's hold reason contains TEXT

  liveview_cdp.py --facts FILE.html   prints the facts of a saved DOM as JSON

Every URL the page requested is written to DIR/requests.txt; any request that is not to
the coordinator's own origin fails the run (the page must work without network access).
"""
import argparse
import base64
import html.parser
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit


class Facts(html.parser.HTMLParser):
    """What a saved DOM shows: each migration card, the worst lag, the fleet's lag cells."""

    def __init__(self):
        super().__init__()
        self.facts = {"migrations": {}, "worst_lag_ms": None, "worst_lag_text": "", "fleet": {}}
        self.stack = []  # (tag, what) for the text we collect
        self.card = None
        self.node = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        what = None
        if tag == "section" and "migration" in (a.get("class") or "").split():
            self.card = a.get("data-migration")
            self.facts["migrations"][self.card] = {
                "status": a.get("data-status"), "rows_done": None, "rows_total": None,
                "hold": "", "text": ""}
        elif self.card and tag == "div" and "progress" in (a.get("class") or "").split():
            m = self.facts["migrations"][self.card]
            m["rows_done"] = int(a["data-rows-done"]) if a.get("data-rows-done") else None
            m["rows_total"] = int(a["data-rows-total"]) if a.get("data-rows-total") else None
            m["rate"] = int(a["data-rate"]) if a.get("data-rate") else None
        elif self.card and tag == "div" and a.get("class") == "hold":
            what = "hold"
        elif a.get("id") == "worst-lag":
            v = a.get("data-lag-ms")
            self.facts["worst_lag_ms"] = int(v) if v not in (None, "") else None
            what = "worst"
        elif tag == "tr" and a.get("data-node"):
            self.node = a["data-node"]
            v = a.get("data-lag-ms")
            self.facts["fleet"][self.node] = {"lag_ms": int(v) if v not in (None, "") else None,
                                             "lag_text": ""}
        elif tag == "td" and self.node and a.get("class") == "lag":
            what = "lag"
        if tag in ("section", "div", "span", "td", "tr"):
            self.stack.append((tag, what))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == "section":
            self.card = None
        if tag == "tr":
            self.node = None

    def handle_data(self, data):
        whats = [w for _, w in self.stack if w]
        if self.card:
            self.facts["migrations"][self.card]["text"] += data
        if not whats:
            return
        w = whats[-1]
        if w == "hold" and self.card:
            self.facts["migrations"][self.card]["hold"] += data
        elif w == "worst":
            self.facts["worst_lag_text"] += data
        elif w == "lag" and self.node:
            self.facts["fleet"][self.node]["lag_text"] += data


def facts_of(path):
    p = Facts()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p.facts


class Browser:
    def __init__(self, chromium, width=1400, height=1100):
        self.profile = tempfile.mkdtemp(prefix="cvlv-chromium.")
        cmd_r, cmd_w = os.pipe()  # we write commands; chromium reads fd 3
        out_r, out_w = os.pipe()  # chromium writes fd 4; we read

        def fds():
            # to high numbers first, so that 3 and 4 cannot clobber each other
            a, b = os.dup(cmd_r), os.dup(out_w)
            a, b = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--metrics-recording-only",
                "--mute-audio", "--hide-scrollbars", "--window-size=%d,%d" % (width, height),
                # no network but this machine: every other name fails to resolve
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "about:blank"]
        self.log = open(os.path.join(self.profile, "chromium.log"), "w")
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(out_w)
        self.w = os.fdopen(cmd_w, "wb", buffering=0)
        self.r = out_r
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.cv = threading.Condition()
        self.closed = False
        threading.Thread(target=self._reader, daemon=True).start()
        self.session = None
        self.width, self.height = width, height

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cv:
                    self.closed = True
                    self.cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw.decode("utf-8"))
                with self.cv:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cv.notify_all()

    def send(self, method, params=None, session=True, timeout=20):
        with self.cv:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode("utf-8") + b"\0")
        deadline = time.time() + timeout
        with self.cv:
            while mid not in self.replies:
                if self.closed:
                    raise RuntimeError("chromium exited (log: %s)" % self.log.name)
                if not self.cv.wait(timeout=max(0.01, deadline - time.time())) and \
                        time.time() >= deadline:
                    raise RuntimeError("no answer to %s within %d s" % (method, timeout))
            reply = self.replies.pop(mid)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def wait_event(self, method, timeout=20):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for i, e in enumerate(self.events):
                    if e.get("method") == method:
                        return self.events.pop(i)
                if self.closed or time.time() >= deadline:
                    raise RuntimeError("no %s within %d s" % (method, timeout))
                self.cv.wait(timeout=0.1)

    def requests(self):
        with self.cv:
            return [e["params"]["request"]["url"] for e in self.events
                    if e.get("method") == "Network.requestWillBeSent"]

    def attach(self):
        for _ in range(100):
            targets = self.send("Target.getTargets", session=False)["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("chromium has no page target")
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": pages[0]["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for m in ("Page.enable", "Runtime.enable", "Network.enable"):
            self.send(m)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})

    def navigate(self, url):
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout=30)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s: %s" % (
                expr[:80], r["exceptionDetails"].get("exception", {}).get("description",
                                                                          r["exceptionDetails"])))
        return r["result"].get("value")

    def click(self, selector_js, what):
        """Scrolls the element into view and clicks its centre with the mouse."""
        box = self.eval("""(() => { const e = %s; if (!e) return null;
            e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();
            return {x: r.x + r.width / 2, y: r.y + r.height / 2, disabled: !!e.disabled}; })()"""
                        % selector_js)
        if box is None:
            raise RuntimeError("no %s on the page" % what)
        if box["disabled"]:
            raise RuntimeError("%s is disabled" % what)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                   "button": "left", "clickCount": 1})

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])


def card_js(name):
    return ("document.querySelector('section.migration[data-migration=\"' + CSS.escape(%s) + "
            "'\"]')" % json.dumps(name))


def run(a):
    os.makedirs(a.out, exist_ok=True)
    with open(a.token_file) as f:
        token = f.read().strip()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(a.url))
    b = Browser(a.chromium)
    ok = False
    last_rows = None
    try:
        b.attach()
        b.navigate(a.url)
        card = card_js(a.migration)
        for step in a.steps:
            verb, _, arg = step.partition(":")
            t0 = time.time()
            if verb == "token":
                b.click("document.getElementById('token')", "token field")
                b.send("Input.insertText", {"text": token})
                b.click("document.getElementById('token-save')", "Connect button")
            elif verb == "wait-migration":
                while not b.eval("(() => { const c = %s; const p = c && c.querySelector('.progress');"
                                 " return !!p && Number(p.dataset.rowsDone) > 0; })()" % card):
                    if time.time() - t0 > 60:
                        raise RuntimeError("the page never showed %s's backfill progress: %s" % (
                            a.migration, b.eval("document.getElementById('conn').textContent")))
                    time.sleep(0.1)
            elif verb == "capture":
                path = os.path.join(a.out, arg + ".html")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(b.eval("document.documentElement.outerHTML"))
                facts = facts_of(path)
                with open(os.path.join(a.out, arg + ".json"), "w") as f:
                    json.dump(facts, f, indent=1)
                m = facts["migrations"].get(a.migration) or {}
                last_rows = m.get("rows_done")
                print("liveview_cdp: %s: %s %s rows, worst lag %s" % (
                    arg, m.get("status"), last_rows, facts["worst_lag_text"]), flush=True)
            elif verb == "sleep":
                time.sleep(float(arg))
            elif verb == "screenshot":
                path = arg if os.path.isabs(arg) else os.path.join(a.out, arg)
                png = b.send("Page.captureScreenshot", {"format": "png",
                                                        "captureBeyondViewport": True})["data"]
                with open(path, "wb") as f:
                    f.write(base64.b64decode(png))
                print("liveview_cdp: screenshot %s" % path, flush=True)
            elif verb == "op":
                b.eval("document.getElementById('toast').dataset.show = '0'")  # a new answer
                b.click("(() => { const c = %s; return c && c.querySelector('button[data-op=\"%s\"]'); })()"
                        % (card, arg), arg + " button")
                while not b.eval("document.getElementById('confirm').open"):
                    if time.time() - t0 > 5:
                        raise RuntimeError("no confirmation dialog after clicking " + arg)
                    time.sleep(0.05)
                title = b.eval("document.getElementById('confirm-title').textContent")
                b.click("document.getElementById('confirm-ok')", "the dialog's confirm button")
                while True:
                    toast = b.eval("(() => { const t = document.getElementById('toast');"
                                   " return t.dataset.show === '1' ? t.textContent : ''; })()")
                    if toast:
                        break
                    if time.time() - t0 > 20:
                        raise RuntimeError("no answer shown after confirming " + arg)
                    time.sleep(0.05)
                print("liveview_cdp: %s: dialog \"%s\" -> %s" % (arg, title, toast), flush=True)
                if "refused" in toast or "unreachable" in toast:
                    raise RuntimeError("the page says: " + toast)
            elif verb == "wait-status":
                want = arg.split("|")
                while True:
                    st = b.eval("(() => { const c = %s; return c && c.dataset.status; })()" % card)
                    if st in want:
                        break
                    if time.time() - t0 > 30:
                        raise RuntimeError("the page shows %s, not %s" % (st, arg))
                    time.sleep(0.1)
                print("liveview_cdp: the page shows %s" % st, flush=True)
            elif verb == "wait-hold":
                while True:
                    hold = b.eval("(() => { const c = %s; const h = c && c.querySelector('.hold');"
                                  " return h ? h.textContent : ''; })()" % card)
                    if arg in hold:
                        break
                    if time.time() - t0 > 30:
                        raise RuntimeError("the page shows no hold with \"%s\" (hold: \"%s\")"
                                           % (arg, hold))
                    time.sleep(0.1)
                print("liveview_cdp: the page shows \"%s\"" % hold, flush=True)
            elif verb == "wait-progress":
                base = last_rows or 0
                while True:
                    rows = b.eval("(() => { const c = %s; const p = c && c.querySelector('.progress');"
                                  " return p ? Number(p.dataset.rowsDone) : null; })()" % card)
                    if rows is not None and rows > base:
                        break
                    if time.time() - t0 > 30:
                        raise RuntimeError("the rows stayed at %s" % rows)
                    time.sleep(0.1)
                print("liveview_cdp: rows moved %s -> %s" % (base, rows), flush=True)
            else:
                raise RuntimeError("unknown step " + step)
        ok = True
    except Exception as e:  # report and fail
        print("liveview_cdp: FAIL: %s" % e, flush=True)
        try:
            with open(os.path.join(a.out, "failure.html"), "w", encoding="utf-8") as f:
                f.write(b.eval("document.documentElement.outerHTML"))
        except Exception:
            pass
    finally:
        reqs = b.requests()
        b.close()
    with open(os.path.join(a.out, "requests.txt"), "w") as f:
        f.write("".join(u + "\n" for u in reqs))
    foreign = [u for u in reqs if not (u == origin or u.startswith(origin + "/"))]
    if foreign:
        print("liveview_cdp: FAIL: the page requested other origins: %s" % foreign, flush=True)
        ok = False
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--facts")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--url")
    ap.add_argument("--token-file")
    ap.add_argument("--migration")
    ap.add_argument("--out")
    ap.add_argument("steps", nargs="*")
    a = ap.parse_args()
    if a.facts:
        json.dump(facts_of(a.facts), sys.stdout, indent=1)
        print()
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
