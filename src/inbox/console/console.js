// The inbox console's one script. Every few seconds (the body's
// data-refresh) it fetches the page it is on again, asking for the parts
// that change only, and swaps each element marked data-live for its new
// version: counts, list, state and attempts stay current without a
// reload. It reads only the DOM and the console's own answers (HTML the
// server escaped); it writes text with textContent and builds no markup.
// Without it, the page works the same and is refreshed by reloading.
(function () {
  "use strict";

  var seconds = Number(document.body.getAttribute("data-refresh")) || 5;
  var status = document.getElementById("refreshed");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  // This page's URL without the user name and password a browser may
  // keep from the address (fetch refuses URLs that hold them; the
  // browser sends the credentials it has for this site itself).
  function here() {
    var url = new URL(window.location.href);
    url.username = "";
    url.password = "";
    url.hash = "";
    return url.href;
  }

  function refresh() {
    if (document.hidden) {
      return;
    }
    fetch(here(), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Console-Part": "live" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (part) {
          var next = fresh.getElementById(part.id);
          if (next) {
            part.replaceWith(document.importNode(next, true));
          }
        });
        say("Updated " + new Date().toLocaleTimeString());
      })
      .catch(function (error) {
        say("Not updated (" + error.message + "); trying again");
      });
  }

  say("Updates every " + seconds + " s");
  window.setInterval(refresh, seconds * 1000);
})();
