"""The web client (flackd/web/static/) in a real browser, against the installed flackd.

Each test starts ``flackd --web-port N`` as a child process, opens the page in headless
Chromium (:mod:`tests.browser`) and talks to it as people would: typing, clicking, keys.
Netcat-style users (:class:`tests.support.LineClient`) sit on the line port, so every test
also proves the page and the protocol's other users see the same chat. Waits are Selenium
waits on DOM conditions and the line clients' bounded reads; nothing sleeps.

``FLACK_SCREENSHOTS=1`` also writes docs/img/web-*.png (desktop and phone widths, light and
dark); without it that test is skipped, so the suite never rewrites tracked files.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests import browser
from tests.process import FlackdProcess, flackd_process, free_port
from tests.support import WAIT, LineClient

if (_reason := browser.unavailable()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from tests.browser import Page, open_page  # after the skip: it needs selenium

pytestmark = [pytest.mark.trio, pytest.mark.subprocess]

ENTER = browser.Keys.ENTER
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


@dataclass
class Web:
    flackd: FlackdProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.flackd.web_port}/"

    async def netcat(self, nick: str, *channels: str) -> LineClient:
        """A registered line-port user in ``channels``."""
        client = await self.flackd.client(nick)
        await client.register(nick)
        for channel in channels:
            await client.join(channel)
        return client


@asynccontextmanager
async def start(*flags: str) -> AsyncIterator[Web]:
    """The installed flackd with its web port (and ``flags``)."""
    async with flackd_process("--web-port", str(free_port()), *flags) as flackd:
        yield Web(flackd)
        assert await flackd.terminate() == 0


@pytest.fixture
async def web() -> AsyncIterator[Web]:
    async with start() as running:
        yield running


async def line(client: LineClient, pattern: str) -> str:
    """The next line of ``client`` matching ``pattern`` (skipping others), bounded."""
    with trio.fail_after(WAIT):
        while True:
            got = await client.recv()
            if re.search(pattern, got):
                return got


async def clean(*pages: Page) -> None:
    """No page logged a console error (a CSP or Trusted Types violation, a 404, a throw)."""
    for page in pages:
        assert await page.console_errors() == []


async def test_two_browser_users_and_a_netcat_user_chat_in_one_channel(web: Web) -> None:
    carol = await web.netcat("carol", "#general")
    async with open_page(web.url) as alice, open_page(web.url) as bob:
        await alice.register("alice")
        await line(carol, r"^JOIN #general alice$")
        await bob.register("bob")
        await line(carol, r"^JOIN #general bob$")
        for page in (alice, bob):
            assert await page.attr("#channels button.conv[aria-current=page]", "class") == "conv"
            assert await page.attr("#log", "data-conv") == "#general"

        await alice.say("hello from alice")
        await bob.message("hello from alice", "alice")
        await line(carol, r"^MSG #general \S+ \S+ alice :hello from alice$")
        await bob.say("hi alice, bob here")
        await alice.message("hi alice, bob here", "bob")
        await line(carol, r"^MSG #general \S+ \S+ bob :hi alice, bob here$")
        await carol.send("MSG #general and carol from netcat")
        for page in (alice, bob):
            await page.message("and carol from netcat", "carol")
            assert await page.messages() == [
                ("alice", "hello from alice"),
                ("bob", "hi alice, bob here"),
                ("carol", "and carol from netcat"),
            ]
            # the live member list (NAMES, then JOIN events): carol made #general, so she
            # is its operator, listed first
            await page.wait_members("carol", "alice", "bob")

        # author and time: <time datetime=ISO UTC> shown in local time, full UTC on hover
        echo = await line(carol, r"carol :and carol from netcat$")
        server_time = echo.split()[3]
        # the newest message line (a notice or an event may come after it in the log)
        newest = "#log li.msg time", "#log li.msg .text"
        assert await alice.attr(newest[0], "datetime", last=True) == server_time
        assert (await alice.attr(newest[0], "title", last=True) or "").endswith(" UTC")
        assert await alice.attr(newest[1], "dir", last=True) == "auto"
        assert await alice.attr("#log", "role") == "log"
        assert await alice.attr("#status", "role") == "status"
        await clean(alice, bob)


async def test_a_reload_comes_back_as_the_same_user_in_the_same_channel(web: Web) -> None:
    dave = await web.netcat("dave", "#random")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("/join #random")
        await alice.wait_css('#channels li[data-conv="#random"] button[aria-current=page]')
        await alice.say("still here after a reload")
        await alice.message("still here after a reload", "alice")
        await line(dave, r"alice :still here after a reload$")
        stored = await alice.storage()
        assert list(stored) == ["flack"]
        assert set(stored["flack"]) == {"nick", "token", "lastChannel"}
        assert stored["flack"]["nick"] == "alice"
        assert stored["flack"]["lastChannel"] == "#random"

        await alice.reload()
        await alice.wait_state("online")
        assert await alice.attr("#welcome", "hidden") is not None  # no name asked
        await alice.wait_css('#channels li[data-conv="#random"] button[aria-current=page]')
        assert await alice.count('#channels li[data-conv="#general"]') == 1
        assert await alice.text("#me-nick") == "alice"
        await alice.message("still here after a reload", "alice")
        # the same session: dave saw alice drop and come back, not a newcomer
        await line(dave, r"^QUIT alice :")
        await line(dave, r"^JOIN #random alice$")
        token = (await alice.storage())["flack"]["token"]
        assert token != stored["flack"]["token"]  # RESUME hands out a new one; it is kept
        await dave.send("MSG #random welcome back")
        await alice.message("welcome back", "dave")
        await clean(alice)


async def test_a_server_password_is_asked_for_and_kept_for_the_tab(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("open sesame\n")
    async with start("--password-file", str(secret)) as web, open_page(web.url) as alice:
        assert await alice.attr("#password-row", "hidden") is not None  # not known yet
        await alice.type("#name-input", "alice", ENTER)
        # the server's HELLO says password=required: the form asks for it too
        await alice.wait_css("#password-row:not([hidden])")
        await alice.type("#password-input", "wrong", ENTER)
        await alice.wait_text("#name-error", "That is not the server password.")
        await alice.type("#password-input", "open sesame", ENTER)
        await alice.wait_state("online")
        await alice.wait_text("#me-nick", "alice")
        await alice.wait_css("#channels button.conv[aria-current=page]")
        carol = await LineClient.connect(web.flackd.port)
        await carol.send("PASS open sesame", "NICK carol", "JOIN #general")
        await line(carol, r"^OK JOIN #general ")
        await carol.send("MSG #general behind a password")
        await alice.message("behind a password", "carol")
        assert "open sesame" not in str(await alice.storage())  # not in localStorage
        await alice.reload()  # the tab remembers it: no form
        await alice.wait_state("online")
        assert await alice.attr("#welcome", "hidden") is not None
        await line(carol, r"^JOIN #general alice$")
        await clean(alice)


async def test_html_from_the_wire_is_shown_as_text(web: Web) -> None:
    carol = await web.netcat("carol", "#general")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await line(carol, r"^JOIN #general alice$")
        payloads = [
            "<img src=x onerror=\"document.title='pwned'\">",
            "<script>document.title = 'pwned'</script>",
            '"><svg onload=alert(1)><b>not bold</b>',
        ]
        for payload in payloads:
            await carol.send(f"MSG #general {payload}")
        await carol.send("TOPIC #general <img src=y onerror=alert(2)> topic")
        for payload in payloads:
            await alice.message(payload, "carol")
        await alice.wait_text("#topic", "<img src=y onerror=alert(2)> topic")
        for tag in ("img", "script", "svg", "b"):
            assert await alice.count(f"#log {tag}") == 0
            assert await alice.count(f"#topic {tag}") == 0
        assert "pwned" not in await alice.js("return document.title")
        await clean(alice)


async def test_a_cut_connection_reconnects_and_catches_up_once(web: Web) -> None:
    carol = await web.netcat("carol", "#general")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await line(carol, r"^JOIN #general alice$")
        await carol.send("MSG #general before the cut")
        await alice.message("before the cut", "carol")

        await alice.run(alice.browser.network, online=False)
        await alice.wait_state("offline")
        await line(carol, r"^QUIT alice :")  # the server saw the WebSocket go
        for text in ("one while you were away", "two while you were away", "three"):
            await carol.send(f"MSG #general {text}")
        await alice.say("typed while offline")
        await alice.wait_css("#log li.msg.pending[data-local-id]")
        assert "Offline" in await alice.text("#status")

        await alice.run(alice.browser.network, online=True)
        await alice.wait_state("online")
        await line(carol, r"^JOIN #general alice$")  # RESUME: the same session
        await alice.message("three", "carol")
        await alice.message("typed while offline", "alice")
        await alice.wait_gone("#log li.msg.pending")
        assert await alice.messages() == [
            ("carol", "before the cut"),
            ("carol", "one while you were away"),
            ("carol", "two while you were away"),
            ("carol", "three"),
            ("alice", "typed while offline"),
        ]
        ids = await alice.js(
            "return [...document.querySelectorAll('#log li.msg')].map(l => l.dataset.id)"
        )
        assert len(set(ids)) == len(ids)
        # the queued message went out exactly once
        await line(carol, r"alice :typed while offline$")
        assert not [x for x in await carol.barrier() if "typed while offline" in x]
        await clean(alice)


async def test_a_session_resumed_elsewhere_stops_and_a_taken_name_is_asked_again(web: Web) -> None:
    async with open_page(web.url) as alice:
        await alice.register("alice")
        token = (await alice.storage())["flack"]["token"]
        thief = await web.flackd.client("laptop")
        await thief.send(f"RESUME {token}")
        await line(thief, r"^OK RESUME alice ")
        await alice.wait_state("stopped")
        assert "another window" in await alice.text("#status")
        # Taking it back: the stored token was used up by the other connection, so the page
        # falls back to its name, which the other connection holds: it asks again.
        await alice.click("#reconnect-button")
        assert "alice" in await alice.wait_text("#name-error")
        await alice.run((await alice.one("#name-input")).clear)
        await alice.register("alice2")
        await clean(alice)


async def test_creating_a_channel_and_a_taken_name(web: Web) -> None:
    carol = await web.netcat("carol", "#taken")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.click("#create-button")
        await alice.type("#create-input", "#planning", ENTER)
        await alice.wait_css('#channels li[data-conv="#planning"] button[aria-current=page]')
        assert await alice.text("#conv-title") == "#planning"

        await alice.click("#create-button")
        await alice.type("#create-input", "#Taken", ENTER)
        await alice.wait_text("#create-error", contains="already exists")
        assert await alice.count('#channels li[data-conv="#taken"]') == 0
        # the list of channels, with member counts; joining from it
        await alice.wait_css('#browse-list li[data-channel="#taken"]')
        assert "1 member" in await alice.text('#browse-list li[data-channel="#taken"]')
        await alice.click("#create-error button.join-existing")
        await alice.wait_css('#channels li[data-conv="#taken"] button[aria-current=page]')
        await line(carol, r"^JOIN #taken alice$")
        await clean(alice)


async def test_editing_and_deleting_your_own_message(web: Web) -> None:
    carol = await web.netcat("carol", "#general")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("the meeting is at 3")
        msg_id = await alice.message("the meeting is at 3", "alice")
        await line(carol, rf"^MSG #general {msg_id} \S+ alice :the meeting is at 3$")
        await carol.send("MSG #general noted")
        carol_id = await alice.message("noted", "carol")
        assert await alice.count(f'li.msg[data-id="{carol_id}"] button.edit') == 0

        # Up in the empty message box edits your last message (Enter saves)
        await alice.click("#composer")
        await alice.keys(browser.Keys.ARROW_UP)
        edit = await alice.one(f'li.msg[data-id="{msg_id}"] input.edit-input')
        await alice.run(edit.clear)
        await alice.run(edit.send_keys, "the meeting is at 4", ENTER)
        await line(carol, rf"^EDITED #general {msg_id} \S+ alice :the meeting is at 4$")
        await alice.message("the meeting is at 4", "alice")
        await alice.wait_css(f'li.msg.edited[data-id="{msg_id}"] .edited-mark')
        assert await alice.text(f'li.msg[data-id="{msg_id}"] .edited-mark') == "(edited)"

        hover = f'li.msg[data-id="{msg_id}"]'
        await alice.hover_click(hover, f"{hover} button.delete")
        await alice.click(f"{hover} button.confirm-delete")
        await line(carol, rf"^DELETED #general {msg_id} alice$")
        await alice.wait_css(f"{hover}.deleted")
        assert await alice.text(f"{hover} .text") == "This message was deleted."
        await clean(alice)


async def test_direct_messages_between_the_browser_and_netcat(web: Web) -> None:
    carol = await web.netcat("carol")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await carol.send("MSG alice psst, it is carol")
        await alice.wait_css('#dms li[data-conv="carol"] .unread-badge')
        await alice.until(lambda: alice.browser.driver.title.startswith("(1) #general"))
        await alice.open("carol")
        await alice.message("psst, it is carol", "carol")
        await alice.wait_gone('#dms li[data-conv="carol"] .unread-badge')
        await alice.say("hi carol")
        await line(carol, r"^MSG carol \S+ \S+ alice :hi carol$")
        await alice.message("hi carol", "alice")
        await alice.say("/me waves")
        await line(carol, r"^MSG carol \S+ \S+ alice kind=action :waves$")
        await alice.wait_css("#log li.msg.action[data-id]")
        # /msg from a channel opens the conversation
        await alice.open("#general")
        await alice.say("/msg carol from the slash command")
        await line(carol, r"alice :from the slash command$")
        await alice.wait_css('ol#log[data-conv="carol"]')
        await alice.message("from the slash command", "alice")
        # A reload lists the conversation although nothing in it is unread (UNREAD ALL).
        await alice.open("#general")
        await alice.reload()
        await alice.wait_state("online")
        await alice.wait_css('#channels li[data-conv="#general"] button[aria-current="page"]')
        await alice.wait_css('#dms li[data-conv="carol"]')
        assert await alice.count('#dms li[data-conv="carol"] .badge') == 0
        await clean(alice)


async def test_unread_and_mention_badges_come_from_the_server(web: Web) -> None:
    carol = await web.netcat("carol", "#general", "#random")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("/join #random")
        await alice.wait_css('#channels li[data-conv="#random"] button[aria-current=page]')
        await alice.open("#general")
        await alice.js(
            "document.querySelector('#channels li[data-conv=\"#general\"] button').focus()"
        )
        await carol.send("MSG #random just chatting", "MSG #random ALICE: a question for you")
        random = '#channels li[data-conv="#random"]'
        await alice.wait_css(f'{random} .unread-badge[data-count="2"]')
        # the sidebar was redrawn; the keyboard focus stayed where it was
        focused = "return document.activeElement.closest('li')?.dataset.conv ?? null"
        assert await alice.js(focused) == "#general"
        await alice.wait_css(f'{random} .mention-badge[data-count="1"]')
        assert await alice.js("return document.title") == "(2) #general — Flack"
        # the server keeps the counts: a reload shows them again (RESUME's UNREAD block)
        await alice.reload()
        await alice.wait_state("online")
        await alice.wait_css(f'{random} .unread-badge[data-count="2"]')
        await alice.wait_css(f'{random} .mention-badge[data-count="1"]')
        # opening it reads it (MARK), for good: after another reload no badge
        await alice.open("#random")
        newest = await alice.message("ALICE: a question for you", "carol")
        assert await alice.count(f"{random} .badge") == 0
        assert await alice.js("return document.title") == "#random — Flack"
        await alice.wait_css(f'{random}[data-read="{newest}"]')  # the server has it
        await alice.reload()
        await alice.wait_state("online")
        await alice.wait_css(f'{random} button[aria-current="page"]')
        await alice.message("ALICE: a question for you", "carol")
        assert await alice.count(f"{random} .badge") == 0
        await clean(alice)


async def test_keyboard_switcher_and_slash_commands(web: Web) -> None:
    carol = await web.netcat("carol", "#general")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("/join #random")
        await alice.wait_css('li[data-conv="#random"] button[aria-current=page]')
        # Ctrl+K, type, Enter
        await alice.chord(browser.Keys.CONTROL, "k")
        await alice.wait_css("dialog#switcher[open]")
        await alice.type("#switcher-input", "gen", ENTER)
        await alice.wait_css('li[data-conv="#general"] button[aria-current=page]')
        # Alt+Down / Alt+Up walk the sidebar
        await alice.chord(browser.Keys.ALT, browser.Keys.ARROW_DOWN)
        await alice.wait_css('li[data-conv="#random"] button[aria-current=page]')
        await alice.chord(browser.Keys.ALT, browser.Keys.ARROW_UP)
        await alice.wait_css('li[data-conv="#general"] button[aria-current=page]')
        # slash commands, as in flackcli
        await alice.say("/topic release on Thursday")
        await line(carol, r"^TOPIC #general alice \S+ :release on Thursday$")
        await alice.wait_text("#topic", "release on Thursday")
        await alice.say("/names")
        await alice.wait_notice("#general (2): alice, @carol")
        await alice.say("/dance")
        await alice.wait_notice("unknown command /dance", error=True)
        # the mistyped command stays in the box to be fixed
        assert await alice.attr("#composer", "value") == "/dance"
        await alice.run((await alice.one("#composer")).clear)
        await alice.say("/nick alicia")
        await line(carol, r"^NICK alice alicia$")
        await alice.wait_text("#me-nick", "alicia")
        assert (await alice.storage())["flack"]["nick"] == "alicia"
        # an invitation, both ways
        await alice.say("/invite carol #random")
        await line(carol, r"^NOTE INVITED #random alicia :alicia invites you to #random")
        await carol.send("JOIN #lounge", "INVITE alicia #lounge")
        await alice.wait_notice("carol invites you to #lounge: /join #lounge")
        await alice.say("/part #random")
        await alice.wait_gone('#channels li[data-conv="#random"]')
        await clean(alice)


async def test_operators_modes_and_kicks(web: Web) -> None:
    bob = await web.netcat("bob", "#general")  # bob made #general: its operator
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("/join #random")
        await alice.open("#general")
        await alice.wait_members("bob", "alice")
        assert await alice.attr('#members li[data-nick="bob"]', "data-role") == "op"
        assert await alice.text('#members li[data-nick="bob"] .role') == "@"
        # a refusal shows its text; a query its answer
        await alice.say("/op bob")
        await alice.wait_notice("only operators of #general change its modes", error=True)
        await alice.say("/mode")
        await alice.wait_notice("Modes of #general: +n")
        # mode changes are lines, and the member list follows them
        await bob.send("MODE #general +v alice")
        await alice.wait_event("bob sets mode +v alice")
        await alice.wait_css('#members li[data-nick="alice"][data-role="voice"]')
        await bob.send("MODE #general +o alice")
        await alice.wait_css('#members li[data-nick="alice"][data-role="op"]')
        # an operator's commands
        await alice.say("/ban spam*")
        await line(bob, r"^MODE #general alice \+b spam\*!\*@\*$")
        await alice.say("/ban")
        await alice.wait_notice("spam*!*@* (set by alice, ")
        # a ban exception: set, said, listed
        await alice.say("/mode +eC spam1")
        await line(bob, r"^MODE #general alice \+eC spam1!\*@\*$")
        await alice.wait_event("alice sets mode +eC spam1!*@*")
        await alice.say("/mode +e")
        await alice.wait_notice("spam1!*@* (set by alice, ")
        await alice.say("/invite")
        await alice.wait_notice("You have no pending invitations.")
        await alice.say("/mode -C")
        await line(bob, r"^MODE #general alice -C$")
        await bob.send("CTCP #general PING 7")
        await alice.wait_event("bob sent CTCP PING 7")
        await alice.say("/kick bob take a break")
        await line(bob, r"^KICK #general bob alice :take a break$")
        await alice.wait_event("alice kicked bob (take a break)")
        await alice.wait_members("alice")
        await bob.send("JOIN #general")
        await alice.wait_members("alice", "bob")
        await alice.say("/op bob")
        await line(bob, r"^MODE #general alice \+o bob$")
        await alice.wait_members("alice", "bob")  # both operators: alphabetical
        # being kicked leaves the channel, and says so
        await bob.send("KICK #general alice enough")
        await alice.wait_gone('#channels li[data-conv="#general"]')
        await alice.wait_css('ol#log[data-conv="#random"]')
        await alice.wait_notice("You were kicked from #general by bob (enough).", error=True)
        await clean(alice)


async def test_older_messages_load_on_scrolling_up_and_with_a_button() -> None:
    # A flood limit high enough for one netcat user to fill the history quickly (and a send
    # queue big enough for the longer history, which flackd checks).
    flags = ("--history", "250", "--sendq-bytes", "524288", "--flood-burst", "400")
    async with start(*flags, "--flood-rate", "400") as big:
        carol = await big.netcat("carol", "#general")
        await carol.send(*(f"MSG #general message {n}" for n in range(1, 171)))
        await line(carol, r"carol :message 170$")
        async with open_page(big.url) as alice:
            await alice.register("alice")
            await alice.message("message 170", "carol")
            await alice.message("message 71", "carol")  # the last 100 on opening
            assert await alice.count("#log li.msg") == 100
            await alice.wait_css("#older-button:not([hidden])")
            # scrolling to the top loads a page more (HISTORY #general BEFORE <oldest id>)
            await alice.js("document.getElementById('scroller').scrollTop = 0;")
            await alice.message("message 21", "carol")
            assert await alice.count("#log li.msg") == 150
            # and so does the button (here from the keyboard, without scrolling)
            await alice.js("document.getElementById('older-button').focus({preventScroll: true});")
            await alice.keys(ENTER)
            await alice.message("message 1", "carol")
            await alice.wait_css("#older-button[hidden]")  # more=no: nothing older
            texts = [text for _, text in await alice.messages()]
            assert texts == [f"message {n}" for n in range(1, 171)]
            # scrolled up, a new message is unread even here; Esc marks it read
            await carol.send("MSG #general while you were reading")
            general = '#channels li[data-conv="#general"]'
            await alice.wait_css(f'{general} .unread-badge[data-count="1"]')
            await alice.keys(browser.Keys.ESCAPE)
            await alice.wait_gone(f"{general} .unread-badge")
            await clean(alice)


async def test_phone_width_folds_the_sidebar_into_a_menu(web: Web) -> None:
    async with open_page(web.url) as alice:
        await alice.run(alice.browser.viewport, 400, 800, mobile=True)
        await alice.register("alice")
        sidebar = await alice.one("#sidebar")
        assert not await alice.run(sidebar.is_displayed)
        await alice.click("#menu-button")
        await alice.until(sidebar.is_displayed)
        assert await alice.attr("#menu-button", "aria-expanded") == "true"
        await alice.click('#channels li[data-conv="#general"] button.conv')
        await alice.until(lambda: not sidebar.is_displayed())
        assert await alice.attr("#menu-button", "aria-expanded") == "false"
        await clean(alice)


@pytest.mark.skipif(
    os.environ.get("FLACK_SCREENSHOTS") != "1", reason="FLACK_SCREENSHOTS=1 writes docs/img"
)
async def test_screenshots(web: Web) -> None:
    bob = await web.netcat("bob", "#general", "#release")
    carol = await web.netcat("carol", "#general")
    await bob.send("TOPIC #general Company-wide chat · be kind")
    await bob.send("TOPIC #release Shipping 0.3: checklist in the wiki")
    async with open_page(web.url) as alice:
        await alice.register("alice")
        await alice.say("/join #release")
        await alice.wait_css('li[data-conv="#release"] button[aria-current=page]')
        await alice.open("#general")
        await bob.send("MSG #general morning all! deploy at 10?")
        await alice.message("morning all! deploy at 10?")
        await carol.send("MSG #general alice: can you look at runner 3?")
        await alice.message("alice: can you look at runner 3?")
        await alice.say("on it, give me five minutes")
        await alice.say("/me grabs coffee")
        await alice.wait_css("#log li.msg.action[data-id]")
        await bob.send("MSG #general build 512 is green ✔")
        await alice.message("build 512 is green ✔")
        await bob.send("MSG #release RC1 is tagged", "MSG #release alice, release notes?")
        await carol.send("MSG alice lunch later?")
        await alice.wait_css('#dms li[data-conv="carol"] .unread-badge')
        for scheme in ("light", "dark"):
            await alice.run(alice.browser.color_scheme, scheme)
            await alice.run(alice.browser.viewport, 1200, 800)
            await alice.screenshot(DOCS_IMG / f"web-desktop-{scheme}.png")
            await alice.run(alice.browser.viewport, 400, 800, mobile=True)
            await alice.screenshot(DOCS_IMG / f"web-phone-{scheme}.png")
        await alice.click("#menu-button")
        await alice.until((await alice.one("#sidebar")).is_displayed)
        await alice.screenshot(DOCS_IMG / "web-phone-menu-dark.png")
    async with open_page(web.url) as newcomer:
        await newcomer.run(newcomer.browser.viewport, 1200, 800)
        await newcomer.wait_css("#name-input")
        await newcomer.type("#name-input", "bob", ENTER)
        await newcomer.wait_text("#name-error")
        await newcomer.screenshot(DOCS_IMG / "web-welcome.png")
        await clean(newcomer)
