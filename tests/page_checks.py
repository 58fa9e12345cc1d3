"""What the browser check of every page measures on an open page (test_browser_every_page.py):
each function returns the problems it found, in words that name the element."""

from __future__ import annotations

from typing import Any

from privacy_center.config import PROJECT_ROOT

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
BANNER = ".pc-banner"
# Presses of Tab at most on one page (the longest page has far fewer focusable elements).
MAX_TABS = 800
# Presses of Tab between two looks at whether the focus came back to an element it had.
TABS_BETWEEN_LOOKS = 10

DESCRIBE = """
const describe = (element) => {
  let text = element.tagName.toLowerCase();
  if (element.id) text += "#" + element.id;
  const classes = typeof element.className === "string" ? element.className.trim() : "";
  if (classes) text += "." + classes.split(/\\s+/).join(".");
  const words = (element.innerText || element.textContent || element.value ||
                 element.getAttribute("aria-label") || "")
    .trim().replace(/\\s+/g, " ");
  if (words) text += ` "${words.slice(0, 40)}"`;
  return text;
};
"""

OVERFLOW = (
    "() => {"
    + DESCRIBE
    + """
  const root = document.documentElement;
  const width = root.clientWidth;
  const problems = [];
  if (root.scrollWidth > width) {
    problems.push(`the page is ${root.scrollWidth} px wide in a ${width} px wide window`);
  }
  const scrolled = (element) => {
    for (let up = element.parentElement; up && up !== root; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow === "auto" || overflow === "scroll") return true;
    }
    return false;
  };
  const outside = new Map();
  for (const element of [document.body, ...document.body.querySelectorAll("*")]) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(element).visibility === "hidden") continue;
    const cut = box.right > width + 1 || (box.left < -1 && box.right > 0);
    if (cut && !scrolled(element)) outside.set(element, box);
  }
  for (const [element, box] of outside) {
    if (outside.has(element.parentElement)) continue;  // its container is named already
    problems.push(`${describe(element)} spans ${Math.round(box.left)} to ` +
                  `${Math.round(box.right)} px, outside the ${width} px window`);
  }
  if (root.scrollWidth > width && outside.size === 0) {
    // No box sticks out: some content (a long word, a line that cannot wrap) runs out of its
    // box. Name the innermost boxes whose content does.
    const spilling = [];
    for (const element of document.body.querySelectorAll("*")) {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || scrolled(element)) continue;
      if (getComputedStyle(element).overflowX !== "visible") continue;
      if (box.left + element.scrollWidth > width + 1) spilling.push(element);
    }
    for (const element of spilling) {
      if (spilling.some((other) => other !== element && element.contains(other))) continue;
      const box = element.getBoundingClientRect();
      const end = Math.round(box.left + element.scrollWidth);
      problems.push(`the content of ${describe(element)} runs to ${end} px, outside the ` +
                    `${width} px window`);
    }
  }
  return problems;
}"""
)

BUTTONS = (
    "() => {"
    + DESCRIBE
    + """
  const look = (element) => {
    const style = getComputedStyle(element);
    return `background ${style.backgroundColor}, border ${style.borderTopColor}, ` +
           `text ${style.color}`;
  };
  // The same element with other classes, in the same place (so that the same rules apply).
  const lookAs = (element, remove, add) => {
    const probe = element.cloneNode(false);
    probe.removeAttribute("id");
    probe.classList.remove(...remove);
    probe.classList.add(...add);
    element.after(probe);
    const seen = look(probe);
    probe.remove();
    return seen;
  };
  const problems = [];
  for (const element of document.querySelectorAll(".button-primary, .button-danger")) {
    const danger = element.classList.contains("button-danger");
    const kind = danger ? "danger" : "primary";
    const own = look(element);
    const secondary = lookAs(element, ["button-primary", "button-danger"], ["button"]);
    if (own === secondary) {
      problems.push(`the ${kind} button ${describe(element)} looks like a secondary ` +
                    `button (${own})`);
    }
    if (danger) {
      const primary = lookAs(element, ["button-danger"], ["button", "button-primary"]);
      if (own === primary) {
        problems.push(`the danger button ${describe(element)} looks like a primary ` +
                      `button (${own})`);
      }
    }
  }
  return problems;
}"""
)

AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return result.violations.map((violation) => {
    const nodes = violation.nodes.map((node) => node.target.join(" "));
    const more = nodes.length > 3 ? ` and ${nodes.length - 3} more` : "";
    return `${violation.id} (${violation.impact}): ${violation.help}: ` +
           `${nodes.slice(0, 3).join(", ")}${more}`;
  });
}"""

# Installed on the page before Tab is pressed: each element that takes the focus is measured
# against the banner when the focus leaves it (by then the browser has scrolled it into view,
# and the next element has not been scrolled to yet), or at the end for the last one.
TRACK_FOCUS = (
    "(banner) => {"
    + DESCRIBE
    + """
  const log = window.__pagesFocus = {
    seen: new WeakSet(), measured: new WeakSet(), again: false, left: false, covered: [],
  };
  const meet = (a, b) => ({
    left: Math.max(a.left, b.left), top: Math.max(a.top, b.top),
    right: Math.min(a.right, b.right), bottom: Math.min(a.bottom, b.bottom),
  });
  const area = (r) => Math.max(0, r.right - r.left) * Math.max(0, r.bottom - r.top);
  log.measure = (element) => {
    if (log.measured.has(element)) return;
    log.measured.add(element);
    const shown = document.querySelector(banner);
    if (!shown || shown.contains(element)) return;
    const box = element.getBoundingClientRect();
    const cover = shown.getBoundingClientRect();
    const visible = meet(box, {left: 0, top: 0, right: innerWidth, bottom: innerHeight});
    const under = meet(visible, cover);
    if (under.right - under.left <= 1 || under.bottom - under.top <= 1) return;
    // Room above or below the banner: an element that fits there must be clear of the banner;
    // a taller one must at least not be entirely under it.
    const covering = Math.min(cover.bottom, innerHeight) - Math.max(cover.top, 0);
    const room = innerHeight - Math.max(0, covering);
    const where = `at y ${Math.round(box.top)} to ${Math.round(box.bottom)}, the banner at y ` +
                  `${Math.round(cover.top)} to ${Math.round(cover.bottom)}`;
    if (box.height <= room) {
      log.covered.push(`${describe(element)}: ${Math.round(under.right - under.left)} x ` +
                       `${Math.round(under.bottom - under.top)} px of it under the banner ` +
                       `(${where})`);
    } else if (area(under) >= area(visible) - 1) {
      log.covered.push(`${describe(element)}: all of its visible part under the banner ` +
                       `(${where})`);
    }
  };
  document.addEventListener("focusin", (event) => {
    if (log.seen.has(event.target)) log.again = true;
    log.seen.add(event.target);
  }, true);
  document.addEventListener("focusout", (event) => {
    log.measure(event.target);
    // Out of the page (to the browser's own controls) after its last element.
    if (event.relatedTarget === null) log.left = true;
  }, true);
}"""
)

FOCUS_STATE = "() => window.__pagesFocus.again || !!window.__pagesFocus.left"

FOCUS_END = """() => {
  const log = window.__pagesFocus;
  const element = document.activeElement;
  if (element && element !== document.body) log.measure(element);
  return log.covered;
}"""

WIDGET = """() => [
  ...[...document.scripts].filter((s) => /\\/widget\\//.test(s.src)).map((s) => "script " + s.src),
  ...[...document.querySelectorAll(".pc-banner")].map((e) => e.outerHTML.slice(0, 80)),
]"""


def overflow(tab: Any) -> list[str]:
    return tab.evaluate(OVERFLOW)


def buttons(tab: Any) -> list[str]:
    return tab.evaluate(BUTTONS)


def axe(tab: Any) -> list[str]:
    """axe-core's violations of WCAG 2.2 AA (axe is injected by the context's init script)."""
    return tab.evaluate(AXE_RUN, list(AXE_TAGS))


def widget_on_page(tab: Any, requested: list[str]) -> list[str]:
    """What of the visitors' consent widget a staff page has (it must have none)."""
    found = tab.evaluate(WIDGET)
    widget = {url for url in requested if "/widget/" in url or "/api/v1/" in url}
    found += [f"request to {url}" for url in sorted(widget)]
    return found


def focus_under_banner(tab: Any) -> list[str]:
    """Tab through the page with the consent banner shown: every element that takes the focus
    must be clear of the banner (see TRACK_FOCUS)."""
    if tab.locator(BANNER).count() == 0:
        return ["the consent banner is not shown"]
    tab.evaluate(TRACK_FOCUS, BANNER)
    pressed = 0
    while not tab.evaluate(FOCUS_STATE):
        if pressed >= MAX_TABS:
            return [f"the focus did not come back to the start after {MAX_TABS} presses of Tab"]
        for _press in range(TABS_BETWEEN_LOOKS):
            tab.keyboard.press("Tab")
        pressed += TABS_BETWEEN_LOOKS
    return [f"the focus is under the banner on {covered}" for covered in tab.evaluate(FOCUS_END)]
