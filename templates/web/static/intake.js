// The intake window follows the application form as the clerk types: the form is posted as
// "更新申请表和材料清单" would post it, and from the answer only the materials checklist and
// which fields apply (a field whose `when:` does not hold is hidden and disabled, so not
// posted) are put in place; what was typed stays. The server decides which fields apply,
// with the definition's rules, and checks every field again when the case starts. Without
// JavaScript the button does the same with a whole page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-materials]");
  var list = document.getElementById("materials");
  if (!form || !list || !window.fetch || !window.DOMParser) {
    return;
  }
  var timer = null;
  var latest = 0;

  function refresh() {
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "refresh");
    var ticket = ++latest;
    list.setAttribute("aria-busy", "true");
    // form.action would be the buttons named "action", not the attribute.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    })
      .then(function (answer) {
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        // A slower earlier answer must not overwrite a newer one.
        if (html === null || ticket !== latest) {
          return;
        }
        var page = new DOMParser().parseFromString(html, "text/html");
        showApplying(page);
        var fresh = page.getElementById("materials");
        if (fresh) {
          // What the clerk ticked while the answer was on its way stays ticked: the
          // checklist on screen, not the one posted, is what was handed in.
          var ticked = {};
          list.querySelectorAll("input[name=materials]").forEach(function (box) {
            ticked[box.value] = box.checked;
          });
          fresh.querySelectorAll("input[name=materials]").forEach(function (box) {
            if (Object.prototype.hasOwnProperty.call(ticked, box.value)) {
              box.checked = ticked[box.value];
            }
          });
          list.replaceChildren.apply(list, Array.prototype.slice.call(fresh.childNodes));
        }
      })
      .catch(function () {
        // The button still works; nothing to tell the clerk here.
      })
      .then(function () {
        if (ticket === latest) {
          list.removeAttribute("aria-busy");
        }
      });
  }

  // Shows the fields that apply in the answer and hides (and disables) the others, with
  // the label of the answer (a field that applies now carries its required star).
  function showApplying(page) {
    var fresh = {};
    page.querySelectorAll(".field[data-field]").forEach(function (field) {
      fresh[field.getAttribute("data-field")] = field;
    });
    form.querySelectorAll(".field[data-field]").forEach(function (field) {
      var there = fresh[field.getAttribute("data-field")];
      if (!there) {
        return;
      }
      var hide = there.hasAttribute("hidden");
      if (hide !== field.hasAttribute("hidden")) {
        field.hidden = hide;
        field.querySelectorAll("input, select, textarea").forEach(function (control) {
          control.disabled = hide;
        });
      }
      var label = field.querySelector("label");
      var freshLabel = there.querySelector("label");
      if (label && freshLabel) {
        label.replaceChildren.apply(label, Array.prototype.slice.call(freshLabel.childNodes));
      }
    });
  }

  function later(event) {
    // Ticking a material changes nothing the rules look at.
    if (event.target && event.target.name === "materials") {
      return;
    }
    window.clearTimeout(timer);
    // Busy from the first keystroke: the list is about to change under the pointer.
    list.setAttribute("aria-busy", "true");
    timer = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
