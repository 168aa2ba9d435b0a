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
//   data-effect="hide"   the item folds into "Hidden. Undo" at once, and the hide is sent
//                        only after UNDO_MS (or when the reader leaves), so Undo is real.
(function () {
  "use strict";
  var feed = document.querySelector("ol.feed");
  var main = document.getElementById("main");
  var token = document.querySelector('meta[name="csrf-token"]');
  if (!main || !token || !window.fetch || !window.FormData) {
    return;
  }
  var UNDO_MS = 6000;
  var csrf = token.getAttribute("content");
  var pending = [];  // hides not yet sent: {data, timer}

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

  function sendHide(entry) {
    window.clearTimeout(entry.timer);
    pending.splice(pending.indexOf(entry), 1);
    return post("/feedback", entry.data);
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
      var entry = { data: data, timer: 0 };
      entry.timer = window.setTimeout(function () {
        sendHide(entry).catch(function (error) { failed(item, error); });
      }, UNDO_MS);
      pending.push(entry);
      var undo = fold(item, form.getAttribute("data-gone") || "Hidden", function () {
        window.clearTimeout(entry.timer);
        var at = pending.indexOf(entry);
        if (at >= 0) {
          pending.splice(at, 1);
          return Promise.resolve();
        }
        return Promise.reject(new Error("already hidden"));
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

  // Hides still waiting for their Undo time are sent when the reader leaves.
  function flush() {
    pending.slice().forEach(function (entry) {
      window.clearTimeout(entry.timer);
      navigator.sendBeacon("/feedback", entry.data);
    });
    pending = [];
  }
  window.addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush();
    }
  });
  // Following a link (an article, the next page) with a hide pending sends it first.
  main.addEventListener("click", function (event) {
    if (event.target.closest("a[href]") && pending.length) {
      flush();
    }
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
