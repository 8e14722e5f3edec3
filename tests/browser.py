"""The web client in a real browser: Debian's ``chromium`` driven through its ``chromedriver``
by Selenium, from Trio tests.

:class:`Browser` is one headless Chromium with a fresh profile (so a fresh localStorage);
:class:`Page` is its Trio face: Selenium blocks, so every call runs in a worker thread
(``trio.to_thread.run_sync``) and every wait is Selenium's ``WebDriverWait`` on a DOM
condition, bounded by :data:`WAIT` (never a sleep). :func:`open_page` starts one and always
quits it (``driver.quit()`` in a ``finally``, shielded from cancellation) and removes its
profile. :func:`unavailable` says why browser tests cannot run here (``None`` when they can).

Flags of every start: ``--headless=new --no-sandbox --disable-gpu --disable-quic
--no-first-run --disable-background-networking --disable-component-update --disable-sync
--disable-dev-shm-usage --user-data-dir=<fresh temp dir>``.

Pitfalls (from the research notes, shared/design/web-client.md section 2.3), all seen:

* As root, Chromium refuses to start without ``--no-sandbox`` ("Running as root without
  --no-sandbox is not supported", rc 1 after 0.3 s).
* ``--dump-dom`` and ``--screenshot`` snapshot at load (or at the end of virtual time), before
  the server's lines arrive: anything live needs a driver waiting on a DOM condition.
* The Selenium viewport is not the window size (``--window-size=900,420`` gave a 900x277
  page: the window includes browser UI). Sizes that matter are set with CDP
  ``Emulation.setDeviceMetricsOverride`` (:meth:`Browser.viewport`).
* Without explicit paths Selenium runs Selenium Manager, which goes to the network
  (googlechromelabs.github.io) to look for a driver. ``Service(shutil.which("chromedriver"))``
  and ``options.binary_location = shutil.which("chromium")`` make it never run.
* Harmless stderr noise: dbus "Failed to connect to the bus", and the Debian launcher's
  ``[: ...: unexpected operator`` from its /dev/shm check (``--disable-dev-shm-usage`` is
  there for containers whose /dev/shm is 64 MB).
* A missing ``/favicon.ico`` is a console error: the page links its SVG icon, so "no
  console errors" can be asserted (:meth:`Browser.console_errors`).
* Only DejaVu/Liberation fonts: emoji render monochrome. Assert on the DOM, never on pixels.
* After ``quit()`` Chromium's helpers stay zombies for a moment until PID 1 reaps them; this
  module ends only the driver it started.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import trio

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the module is skipped then
    selenium_missing = True
else:
    selenium_missing = False

__all__ = ["WAIT", "Browser", "Keys", "Page", "open_page", "unavailable"]

#: Seconds any one wait on the page may take.
WAIT = 10.0

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)

P = ParamSpec("P")
T = TypeVar("T")


def unavailable() -> str | None:
    """Why the browser tests cannot run on this machine, or None if they can."""
    if selenium_missing:
        return "selenium is not installed (pip install -e '.[dev]')"
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        return f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)"
    return None


class Browser:
    """One headless Chromium with a fresh profile. Blocking: use it through :class:`Page`."""

    def __init__(self) -> None:
        chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
        assert chromium, unavailable()
        assert chromedriver, unavailable()
        self.profile = tempfile.mkdtemp(prefix="flack-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        except BaseException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.errors: list[dict[str, Any]] = []
        self.viewport(1200, 800)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def cdp(self, command: str, params: dict[str, Any] | None = None) -> Any:
        return self.driver.execute_cdp_cmd(command, params or {})

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """The page's size in CSS pixels (not the window's; see the module docstring)."""
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def color_scheme(self, scheme: str) -> None:
        """Emulate ``prefers-color-scheme: light|dark``."""
        self.cdp(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )

    def network(self, *, online: bool) -> None:
        """Cut or restore the page's network, as a laptop losing its Wi-Fi: the browser fires
        ``offline``/``online`` and ``navigator.onLine`` follows."""
        self.cdp("Network.enable")
        self.cdp(
            "Network.emulateNetworkConditions",
            {"offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

    def until(self, condition: Callable[[], T | None], timeout: float = WAIT) -> T:
        """Wait until ``condition()`` is truthy, and return it (a stale element counts as not
        yet)."""

        def check(_driver: object) -> T | None:
            try:
                return condition()
            except StaleElementReferenceException:
                return None

        return cast(T, WebDriverWait(self.driver, timeout).until(check))

    def css(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str) -> WebElement:
        """The element ``selector`` names, once it is there."""
        return self.until(lambda: next(iter(self.css(selector)), None))

    def text_content(self, selector: str, *, last: bool = False) -> str | None:
        """The ``textContent`` of the first element matching ``selector`` (the last one,
        with ``last``; None if none): all its text, visually hidden parts included,
        whatever the layout."""
        found: str | None = self.driver.execute_script(
            "const all = document.querySelectorAll(arguments[0]);"
            "const e = arguments[1] ? all[all.length - 1] : all[0];"
            "return e ? e.textContent : null;",
            selector,
            last,
        )
        return found

    def console_errors(self) -> list[dict[str, Any]]:
        """Every SEVERE console entry so far (the browser log is drained on each read)."""
        log: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        self.errors += [e for e in log if e.get("level") == "SEVERE"]
        return list(self.errors)

    def hover(self, element: WebElement) -> None:
        ActionChains(self.driver).move_to_element(element).perform()


class Page:
    """A :class:`Browser` on the web client, driven from Trio (each call in a worker thread)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.url = ""

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def goto(self, url: str) -> None:
        self.url = url
        await self.run(self.browser.driver.get, url)

    async def reload(self) -> None:
        await self.run(self.browser.driver.refresh)

    async def js(self, script: str, *args: Any) -> Any:
        return await self.run(self.browser.driver.execute_script, script, *args)

    async def until(self, condition: Callable[[], T | None], timeout: float = WAIT) -> T:
        return await self.run(self.browser.until, condition, timeout)

    async def one(self, selector: str) -> WebElement:
        return await self.run(self.browser.one, selector)

    async def count(self, selector: str) -> int:
        return len(await self.run(self.browser.css, selector))

    async def text(self, selector: str) -> str:
        """The text of ``selector``, read again if the page re-rendered it meanwhile."""

        def read() -> tuple[str] | None:
            found = self.browser.css(selector)
            return (found[0].text,) if found else None  # a stale element: try again

        return (await self.until(read))[0]

    async def wait_notice(self, text: str, *, error: bool = False) -> None:
        """Wait until a notice line in the log (an error one, with ``error``) holds ``text``."""
        selector = "#log li.notice.error" if error else "#log li.notice"
        await self.until(lambda: any(text in n.text for n in self.browser.css(selector)))

    async def wait_text(
        self,
        selector: str,
        equals: str | None = None,
        *,
        contains: str | None = None,
        last: bool = False,
    ) -> str:
        """Wait until the ``textContent`` of ``selector`` (its last match, with ``last``)
        equals ``equals`` (or contains ``contains``, or, given neither, is not empty);
        return it."""

        def check() -> str | None:
            text = self.browser.text_content(selector, last=last)
            if text is None:
                return None
            if equals is not None:
                return text if text == equals else None
            if contains is not None:
                return text if contains in text else None
            return text or None

        return await self.until(check)

    async def wait_event(self, text: str) -> str:
        """Wait until the newest event line of the log (joins, modes, kicks...) reads
        ``text``. Notices may come after it (a flood note, an answer) and do not count."""
        return await self.wait_text("#log li.event .text", text, last=True)

    async def attr(self, selector: str, name: str, *, last: bool = False) -> str | None:
        """An attribute of ``selector`` (its last match, with ``last``), read again if the
        page re-rendered it meanwhile."""

        def read() -> tuple[str | None] | None:
            found = self.browser.css(selector)
            return (found[-1 if last else 0].get_attribute(name),) if found else None

        return (await self.until(read))[0]

    async def wait_css(self, selector: str) -> None:
        """Wait until an element matches ``selector``."""
        await self.one(selector)

    async def wait_gone(self, selector: str) -> None:
        await self.until(lambda: not self.browser.css(selector))

    async def wait_state(self, state: str) -> None:
        """Wait for ``#status[data-state=state]`` (online, offline, stopped...)."""
        await self.wait_css(f'#status[data-state="{state}"]')

    async def click(self, selector: str) -> None:
        """Click ``selector``; if the page re-renders it between finding and clicking (a
        stale element: the click did not happen), find it again and click that."""

        def press() -> bool | None:
            found = self.browser.css(selector)
            if not found:
                return None
            found[0].click()
            return True

        await self.until(press)

    async def hover_click(self, hover: str, selector: str) -> None:
        """Point at ``hover`` (revealing its tools), then click ``selector``."""
        target = await self.one(hover)
        await self.run(self.browser.hover, target)
        await self.click(selector)

    async def type(self, selector: str, *keys: str) -> None:
        element = await self.one(selector)
        await self.run(element.send_keys, *keys)

    async def keys(self, *keys: str) -> None:
        """Keys to whatever has the focus."""
        await self.run(lambda: ActionChains(self.browser.driver).send_keys(*keys).perform())

    async def chord(self, modifier: str, key: str) -> None:
        """A key with a modifier held (Ctrl+K, Alt+Down), to whatever has the focus."""

        def press() -> None:
            chain = ActionChains(self.browser.driver).key_down(modifier).send_keys(key)
            chain.key_up(modifier).perform()

        await self.run(press)

    async def register(self, nick: str) -> None:
        """First visit: the name form, then wait to be online and in a channel."""
        await self.type("#name-input", nick, Keys.ENTER)
        await self.wait_state("online")
        await self.wait_text("#me-nick", nick)
        await self.wait_css("#channels button.conv[aria-current=page]")

    async def wait_members(self, *nicks: str) -> None:
        """Wait until the member list (``#members``) is exactly ``nicks``, in order."""

        def members() -> bool:
            return [li.get_attribute("data-nick") for li in self.browser.css("#members li")] == [
                *nicks
            ]

        await self.until(members)

    async def say(self, text: str) -> None:
        await self.type("#composer", text, Keys.ENTER)

    async def open(self, conv: str) -> None:
        await self.click(f'li[data-conv="{conv}"] button.conv')
        await self.wait_css(f'ol#log[data-conv="{conv}"]')

    async def message(self, text: str, author: str | None = None) -> str:
        """Wait for a confirmed message with exactly ``text`` in the open conversation (by
        ``author`` if given); its id."""
        script = """
            const [text, author] = arguments;
            const li = [...document.querySelectorAll('#log li.msg[data-id]')].find((li) =>
              li.querySelector('.text').textContent === text &&
              (author === null || li.querySelector('.author').textContent === author));
            return li ? li.dataset.id : null;
        """
        found: str = await self.until(
            lambda: self.browser.driver.execute_script(script, text, author)
        )
        return found

    async def messages(self) -> list[tuple[str, str]]:
        """(author, text) of every message in the open conversation, in order."""
        rows: list[list[str]] = await self.js(
            "return [...document.querySelectorAll('#log li.msg')].map((li) =>"
            " [li.querySelector('.author').textContent, li.querySelector('.text').textContent]);"
        )
        return [(author, text) for author, text in rows]

    async def console_errors(self) -> list[dict[str, Any]]:
        return await self.run(self.browser.console_errors)

    async def storage(self) -> dict[str, Any]:
        """What the page keeps in localStorage (parsed)."""
        raw: dict[str, Any] = await self.js(
            "return Object.fromEntries(Object.keys(localStorage).map("
            "(k) => [k, JSON.parse(localStorage.getItem(k))]));"
        )
        return raw

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self.run(self.browser.driver.save_screenshot, str(path))


@asynccontextmanager
async def open_page(url: str | None = None) -> AsyncIterator[Page]:
    """A fresh headless Chromium (on ``url`` if given); always quit, even on failure."""
    browser = await trio.to_thread.run_sync(Browser)
    try:
        page = Page(browser)
        if url is not None:
            await page.goto(url)
        yield page
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(browser.quit)
