// Progressive enhancement only: every page works without this file.
// On an article page, send the seconds spent reading when the reader leaves it.
(function () {
  "use strict";
  var article = document.querySelector("article.reader[data-article-id]");
  var token = document.querySelector('meta[name="csrf-token"]');
  if (!article || !token || !navigator.sendBeacon) {
    return;
  }
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var seconds = 0;
  var sent = false;
  function pause() {
    if (visibleSince !== null) {
      seconds += (Date.now() - visibleSince) / 1000;
      visibleSince = null;
    }
  }
  function send() {
    pause();
    if (sent || seconds < 1) {
      return;
    }
    sent = true;
    var body = new FormData();
    body.append("article_id", article.getAttribute("data-article-id"));
    body.append("seconds", String(Math.min(Math.round(seconds), 14400)));
    body.append("csrf", token.getAttribute("content"));
    navigator.sendBeacon("/read", body);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      if (visibleSince === null) {
        visibleSince = Date.now();
      }
    } else {
      send();
    }
  });
  window.addEventListener("pagehide", send);
})();

// Settings: show a range input's value as it moves (the page shows the saved value without
// script).
(function () {
  "use strict";
  var outputs = document.querySelectorAll("output[for]");
  Array.prototype.forEach.call(outputs, function (output) {
    var input = document.getElementById(output.getAttribute("for"));
    if (!input || input.type !== "range") {
      return;
    }
    input.addEventListener("input", function () {
      output.textContent = Math.round(parseFloat(input.value) * 100) + "%";
    });
  });
})();

// Buttons in place on every page (the feed's items, an article, a story, an entity), and on
// the feed the keyboard moves through the items.
// Without this script each button is a plain form that returns to the same item (its
// anchor); with it, the form is sent in the background (the server answers 204 to the
// X-Tidings-In-Place header) and the item changes where it is, so the reader never loses
// their place:
//   data-effect="done"   the button says what happened (data-done) and is spent;
//   data-effect="swap"   the form gives way to its partner (Save <-> Saved, Follow <-> Unfollow);
//   data-effect="remove" the item (and data-also's items) fold into "Muted ... Undo", where
//                        Undo posts /interests stance=unfollow for data-undo-kind/-value;
//   data-effect="hide"   the item folds into "Hidden: ... Undo" at once while the hide is
//                        sent; Undo posts /unhide, which forgets the hide on the server.
(function () {
  "use strict";
  var feed = document.querySelector("ol.feed");
  var main = document.getElementById("main");
  var token = document.querySelector('meta[name="csrf-token"]');
  if (!main || !token || !window.fetch || !window.FormData) {
    return;
  }
  var csrf = token.getAttribute("content");

  function announce(text) {
    var region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = text; }, 30);
    }
  }

  function post(action, data) {
    return window.fetch(action, {
      method: "POST",
      body: new URLSearchParams(data),
      credentials: "same-origin",
      headers: { "X-Tidings-In-Place": "1" },
      redirect: "manual"
    }).then(function (response) {
      if (response.status !== 204) {
        throw new Error("status " + response.status);
      }
    });
  }

  // What a form acts on: a feed item, or on other pages the row or section it sits in.
  function itemOf(node) {
    return node.closest("[data-item], li, section, article") || node.parentNode;
  }

  function titleOf(item) {
    var link = item.querySelector("h2 a");
    return link ? link.textContent.trim() : "this story";
  }

  function closeMenus(item) {
    Array.prototype.forEach.call(item.querySelectorAll("details.menu[open]"), function (d) {
      d.open = false;
    });
  }

  function failed(item, error) {
    var note = item.querySelector(".problem");
    if (!note) {
      note = document.createElement("p");
      note.className = "problem";
      note.setAttribute("role", "alert");
      item.appendChild(note);
    }
    note.textContent = "That did not work (" + error.message + "). Reload the page and try again.";
  }

  // Fold an item into a one-line notice with Undo; undo() puts it back.
  function fold(item, text, undo) {
    var notice = document.createElement("p");
    notice.className = "folded";
    notice.setAttribute("data-folded-for", item.id);
    var label = document.createElement("span");
    label.textContent = text + ": " + titleOf(item);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = "Undo";
    notice.appendChild(label);
    notice.appendChild(document.createTextNode(" "));
    notice.appendChild(button);
    item.hidden = true;
    item.parentNode.insertBefore(notice, item);
    button.addEventListener("click", function () {
      button.disabled = true;
      undo().then(function () {
        notice.remove();
        item.hidden = false;
        item.focus();
        announce("Undone: " + titleOf(item) + " is back");
      }, function (error) {
        button.disabled = false;
        label.textContent = "Undo did not work (" + error.message + ")";
      });
    });
    return button;
  }

  function act(form, submitter) {
    var item = itemOf(form);
    var effect = form.getAttribute("data-effect");
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.set(submitter.name, submitter.value);
    }
    // A button in the ⋯ menu: the menu closes, and focus goes back to its ⋯.
    var menu = form.closest("details.menu");
    var back = menu ? menu.querySelector("summary") : null;
    closeMenus(item);
    if (back && (menu.contains(document.activeElement) || document.activeElement === document.body)) {
      back.focus();
    }
    if (effect === "hide") {
      // Folded at once (the reader asked for it out of the way), sent at the same time;
      // Undo waits for the hide to be stored, then forgets it on the server.
      var sent = post(form.action, data);
      var undo = fold(item, form.getAttribute("data-gone") || "Hidden", function () {
        return sent.then(function () {
          return post("/unhide", { csrf: csrf, article_id: data.get("article_id") });
        });
      });
      sent.catch(function (error) {
        var notice = document.querySelector("[data-folded-for='" + item.id + "']");
        if (notice) {
          notice.remove();
        }
        item.hidden = false;
        failed(item, error);
      });
      undo.focus();
      announce("Hidden: " + titleOf(item) + ". Undo is next to it.");
      return;
    }
    var buttons = form.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    post(form.action, data).then(function () {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      if (effect === "swap") {
        var partner = document.getElementById(form.getAttribute("data-partner"));
        form.hidden = true;
        if (partner) {
          partner.hidden = false;
          var next = partner.querySelector("button");
          if (next && !back && (form.contains(document.activeElement) || document.activeElement === document.body)) {
            next.focus();
          }
          announce(next ? next.textContent.replace(/\s+/g, " ").trim() : "Done");
        }
        var badge = item.querySelector(".badge.following");
        var stance = data.get("stance");
        if (badge && data.get("kind") === "source" && stance) {
          Array.prototype.forEach.call(
            document.querySelectorAll("[data-source-id='" + data.get("value") + "'] .badge.following"),
            function (b) { b.hidden = stance !== "follow"; }
          );
        }
      } else if (effect === "remove") {
        var gone = [item];
        var also = form.getAttribute("data-also");
        if (also) {
          Array.prototype.forEach.call(main.querySelectorAll(also), function (other) {
            if (other !== item && !other.hidden) {
              gone.push(other);
            }
          });
        }
        var undoData = {
          csrf: csrf,
          kind: form.getAttribute("data-undo-kind"),
          value: form.getAttribute("data-undo-value"),
          stance: "unfollow"
        };
        var restore = function () {
          return post("/interests", undoData).then(function () {
            gone.slice(1).forEach(function (other) {
              var notice = document.querySelector("[data-folded-for='" + other.id + "']");
              if (notice) {
                notice.remove();
              }
              other.hidden = false;
            });
          });
        };
        var text = form.getAttribute("data-gone") || "Muted";
        gone.slice(1).forEach(function (other) {
          other.hidden = true;
        });
        fold(item, text, restore).focus();
        announce(text + ". Undo is next to it.");
      } else {
        Array.prototype.forEach.call(buttons, function (b) {
          b.disabled = true;
          b.textContent = form.getAttribute("data-done") || "Done";
        });
        announce(form.getAttribute("data-done") || "Done");
      }
    }, function (error) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      failed(item, error);
    });
  }

  main.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-inplace")) {
      return;
    }
    event.preventDefault();
    act(form, event.submitter);
  });

  if (!feed) {
    return;
  }

  // The keyboard, as in Feedly and Miniflux.
  var help = document.getElementById("keys");
  var helpButton = document.querySelector("[data-keys]");
  if (helpButton && help && help.showModal) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", function () { help.showModal(); });
  }
  function items() {
    return Array.prototype.filter.call(feed.querySelectorAll("[data-item]"), function (i) {
      return !i.hidden;
    });
  }
  function current() {
    var active = document.activeElement;
    var item = active && active.closest ? active.closest("[data-item]") : null;
    if (item && !item.hidden) {
      return item;
    }
    return feed.querySelector("[data-item].current:not([hidden])");
  }
  function select(item) {
    Array.prototype.forEach.call(feed.querySelectorAll("[data-item].current"), function (i) {
      i.classList.remove("current");
    });
    item.classList.add("current");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var list = items();
    if (!list.length) {
      return;
    }
    var at = list.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    select(list[next]);
  }
  function press(item, selector) {
    var forms = item.querySelectorAll(selector);
    for (var i = 0; i < forms.length; i += 1) {
      if (!forms[i].hidden) {
        forms[i].requestSubmit(forms[i].querySelector("button"));
        return;
      }
    }
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable], dialog[open]")) {
      return;
    }
    var item = current();
    switch (event.key) {
    case "j":
      move(1);
      break;
    case "k":
      move(-1);
      break;
    case "Enter":
      if (!item || target !== item) {
        return;
      }
      item.querySelector("h2 a").click();
      break;
    case "o":
      if (!item) {
        return;
      }
      item.querySelector("h2 a").click();
      break;
    case "s":
      if (!item) {
        return;
      }
      press(item, "form[data-key='s']");
      break;
    case "h":
      if (!item) {
        return;
      }
      var list = items();
      var after = list[list.indexOf(item) + 1] || list[list.indexOf(item) - 1];
      press(item, "form[data-key='h']");
      if (after) {
        select(after);  // as in Feedly: the next story is the current one now
      }
      break;
    case "?":
      if (help && help.showModal) {
        help.showModal();
      }
      break;
    default:
      return;
    }
    event.preventDefault();
  });
  feed.addEventListener("focusin", function (event) {
    var item = itemOf(event.target);
    if (item) {
      Array.prototype.forEach.call(feed.querySelectorAll("[data-item].current"), function (i) {
        if (i !== item) {
          i.classList.remove("current");
        }
      });
      item.classList.add("current");
    }
  });

  // Menus and "Why this?" close when the reader clicks elsewhere, presses Escape, or opens
  // another one.
  function closeAll(except) {
    Array.prototype.forEach.call(feed.querySelectorAll(".controls details[open]"), function (d) {
      if (d !== except && !d.contains(except)) {
        d.open = false;
      }
    });
  }
  document.addEventListener("click", function (event) {
    closeAll(event.target);
  });
  feed.addEventListener("toggle", function (event) {
    if (event.target.open) {
      closeAll(event.target);
    }
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = feed.querySelector(".controls details[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });

  // A picture the proxy could not serve leaves no broken frame behind.
  feed.addEventListener("error", function (event) {
    if (event.target.classList && event.target.classList.contains("thumb")) {
      event.target.hidden = true;
    }
  }, true);
})();

// Suggestions as the reader types, under every box marked data-suggest (the header's search,
// the search page, onboarding): people, organisations, places, topics and sources from
// /api/suggest, each with Follow and Mute, which act at once. Without this script the boxes
// are plain search forms whose pages list the same suggestions.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  var boxes = document.querySelectorAll("input[data-suggest]");
  if (!token || !boxes.length || !window.fetch) {
    return;
  }
  var csrf = token.getAttribute("content");
  var WAIT_MS = 150;  // typing pauses shorter than this are not worth a request
  var MIN_CHARS = 2;

  function href(s) {
    if (s.kind === "entity") {
      return "/entities/" + encodeURIComponent(s.value);
    }
    if (s.kind === "topic") {
      return "/topics/" + encodeURIComponent(s.value);
    }
    return "/sources#source-" + encodeURIComponent(s.value);
  }

  function say(region, text) {
    var live = document.getElementById("announce");
    if (live) {
      live.textContent = "";
      window.setTimeout(function () { live.textContent = text; }, 30);
    }
  }

  // One Follow or Mute button: pressing it sets that stance (or, pressed again, forgets it).
  function stanceButton(s, stance, row) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "small" + (stance === "mute" ? " quiet" : "");
    button.setAttribute("data-stance", stance);
    function show() {
      var on = row.getAttribute("data-stance") === stance;
      var verb = stance === "follow" ? (on ? "Following ✓" : "Follow") : (on ? "Muted ✓" : "Mute");
      button.textContent = verb;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.setAttribute("aria-label", verb + " " + s.label);
      button.classList.toggle("on", on);
    }
    show();
    button.addEventListener("click", function () {
      var on = row.getAttribute("data-stance") === stance;
      button.disabled = true;
      window.fetch("/interests", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-Tidings-In-Place": "1" },
        redirect: "manual",
        body: new URLSearchParams({
          csrf: csrf, kind: s.kind, value: s.value, stance: on ? "unfollow" : stance
        })
      }).then(function (response) {
        button.disabled = false;
        if (response.status !== 204) {
          throw new Error("status " + response.status);
        }
        row.setAttribute("data-stance", on ? "" : stance);
        Array.prototype.forEach.call(row.querySelectorAll("button[data-stance]"), function (b) {
          b.dispatchEvent(new Event("tidings:stance"));
        });
        say(row, (on ? "No longer " + (stance === "follow" ? "following " : "muting ") :
          (stance === "follow" ? "Following " : "Muted ")) + s.label);
      }).catch(function (error) {
        button.disabled = false;
        button.textContent = "Did not work (" + error.message + ")";
      });
    });
    button.addEventListener("tidings:stance", show);
    return button;
  }

  function render(list, found, query) {
    list.textContent = "";
    if (!found.length) {
      var none = document.createElement("p");
      none.className = "empty";
      none.textContent = "Nothing to follow named “" + query + "” yet.";
      list.appendChild(none);
      return;
    }
    var ul = document.createElement("ul");
    found.forEach(function (s) {
      var li = document.createElement("li");
      li.setAttribute("data-stance", s.stance || "");
      li.setAttribute("data-kind", s.kind);
      var name = document.createElement("a");
      name.className = "name";
      name.href = href(s);
      name.textContent = s.label;
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = s.detail;
      var actions = document.createElement("span");
      actions.className = "stances";
      actions.appendChild(stanceButton(s, "follow", li));
      actions.appendChild(stanceButton(s, "mute", li));
      li.appendChild(name);
      li.appendChild(detail);
      li.appendChild(actions);
      ul.appendChild(li);
    });
    list.appendChild(ul);
  }

  Array.prototype.forEach.call(boxes, function (box) {
    var list = document.getElementById(box.getAttribute("data-suggest"));
    var form = box.form;
    if (!list) {
      return;
    }
    var timer = 0;
    var asked = null;  // the request in flight, aborted when the reader types on
    box.setAttribute("aria-expanded", "false");
    function close() {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
    }
    function lookUp() {
      var query = box.value.replace(/\s+/g, " ").trim();
      if (asked) {
        asked.abort();
        asked = null;
      }
      if (query.length < MIN_CHARS) {
        close();
        return;
      }
      asked = new AbortController();
      window.fetch("/api/suggest?" + new URLSearchParams({ q: query.slice(0, 100) }), {
        credentials: "same-origin",
        signal: asked.signal
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      }).then(function (found) {
        asked = null;
        render(list, found, query);
        list.hidden = false;
        box.setAttribute("aria-expanded", "true");
      }).catch(function (error) {
        if (error.name !== "AbortError") {
          close();
        }
      });
    }
    box.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, WAIT_MS);
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !list.hidden) {
        close();
        event.preventDefault();
      } else if (event.key === "ArrowDown" && !list.hidden) {
        var first = list.querySelector("a, button");
        if (first) {
          first.focus();
          event.preventDefault();
        }
      }
    });
    list.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        close();
        box.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (form && !form.contains(event.target) && !list.contains(event.target)) {
        close();
      }
    });
  });
})();

// "Add an article": a paste longer than Tidings takes is refused here, with the reason,
// before megabytes go over the network (the server refuses it too, without this script).
(function () {
  "use strict";
  var form = document.querySelector("form[data-max-chars]");
  if (!form) {
    return;
  }
  var box = form.querySelector("textarea");
  var note = form.querySelector(".error");
  var max = parseInt(form.getAttribute("data-max-chars"), 10);
  form.addEventListener("submit", function (event) {
    var length = box.value.length;
    var problem = null;
    if (!box.value.trim()) {
      problem = "Paste the text of an article page: the box is empty.";
    } else if (length > max) {
      problem = "That is " + length.toLocaleString("en") + " characters: a copied article page is far " +
        "shorter (at most " + max.toLocaleString("en") + "). Paste the article's own page, or give its address.";
    }
    if (problem) {
      event.preventDefault();
      note.textContent = problem;
      note.hidden = false;
      box.setAttribute("aria-invalid", "true");
      box.focus();
    }
  });
})();
