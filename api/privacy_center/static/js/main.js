// The privacy center's entry point: who is signed in, and which screen to show.

import {
  ApiError, graphql, HISTORY, LOGIN, LOGOUT, ME, POLICIES, PROFILE_FIELDS, RESET_PASSWORD,
  SESSION_ENDED, VERIFY_EMAIL,
} from "./api.js";
import { choicesSection } from "./choices.js";
import { alarm, announce, h } from "./dom.js";
import { cardSection, profileSection, removalSection } from "./profile.js";
import { deletionSection, exportSection, historySection, policySection } from "./rights.js";

const $ = (id) => document.getElementById(id);
let fields = [];

function show(screen) {
  $("sign-in").hidden = screen !== "sign-in";
  $("account").hidden = screen !== "account";
  $("sign-out").hidden = screen !== "account";
  $("who").hidden = screen !== "account";
}

async function signedIn() {
  const [{ me }, policies, history] = await Promise.all([
    graphql(ME), graphql(POLICIES), graphql(HISTORY),
  ]);
  if (!me) return false;
  // Redrawing keeps the keyboard where it was.
  const focused = document.activeElement && document.activeElement.id;
  const refresh = async () => { await signedIn(); };
  $("who").textContent = `Signed in as ${me.email}`;
  $("account").replaceChildren(
    profileSection(me, fields, refresh),
    choicesSection(me, refresh),
    cardSection(me, fields, refresh),
    removalSection(me, fields, refresh),
    policySection(policies, me, refresh),
    exportSection(refresh),
    deletionSection(deleted),
    historySection(history.me),
  );
  show("account");
  if (focused && $(focused)) $(focused).focus();
  return true;
}

function signInScreen(message) {
  show("sign-in");
  if (message) announce(message);
  $("sign-in-email").focus();
}

function deleted() {
  $("account").replaceChildren();
  signInScreen();
  $("links").hidden = false;
  $("links").replaceChildren(h("h2", { id: "links-title" }, "Your account was deleted"),
    h("p", {}, "Everything we held about you has been erased. Thank you for having been with us."));
  announce("Your account was deleted.");
  $("sign-in").hidden = true;
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("sign-in-error");
  const email = form.email.value.trim();
  const password = form.password.value;
  error.textContent = !email || !password ? "Enter your e-mail address and password." : "";
  if (error.textContent) return;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const payload = (await graphql(LOGIN, { input: { email, password } })).login;
    if (payload.errors.length) {
      error.textContent = payload.errors[0].message;
      form.password.focus();
      return;
    }
    form.password.value = "";
    alarm("");
    await signedIn();
    announce("You are signed in.");
    $("main").focus();
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await graphql(LOGOUT);
  } catch (failure) {
    alarm(failure.message);
  }
  $("account").replaceChildren();
  signInScreen("You are signed out.");
});

// Links in e-mails carry their code in the fragment (never sent to a server or logged).
function linkForm(kind, token) {
  const reset = kind === "reset-password";
  const error = h("p", { class: "error", id: "link-error", "aria-live": "polite" });
  const form = h("form", { id: `${kind}-form`, novalidate: true },
    h("div", { class: "field" }, h("label", { for: "link-code" }, "Code"),
      h("input", { id: "link-code", value: token, autocomplete: "one-time-code", required: true })),
    reset ? h("div", { class: "field" }, h("label", { for: "link-password" }, "New password (12 to 128 characters)"),
      h("input", { id: "link-password", type: "password", autocomplete: "new-password", minlength: 12,
        maxlength: 128, required: true, "aria-describedby": "link-error" })) : null,
    error,
    h("div", { class: "actions" }, h("button", { type: "submit" }, reset ? "Set the new password" : "Confirm my address")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = form.querySelector("#link-code").value.trim();
    try {
      let payload;
      if (reset) {
        const newPassword = form.querySelector("#link-password").value;
        if (newPassword.length < 12) { error.textContent = "At least 12 characters."; return; }
        payload = (await graphql(RESET_PASSWORD, { input: { token: code, newPassword } })).resetPassword;
      } else {
        payload = (await graphql(VERIFY_EMAIL, { input: { token: code } })).verifyEmail;
      }
      if (payload.errors.length) { error.textContent = payload.errors.map((e) => e.message).join(" "); return; }
      history.replaceState(null, "", location.pathname);
      $("links").replaceChildren(h("p", {}, reset
        ? "Your password was changed. Sign in with it below."
        : "Thank you: your e-mail address is confirmed."));
      announce(reset ? "Your password was changed." : "Your e-mail address is confirmed.");
      if (!(await signedIn())) signInScreen();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  $("links").hidden = false;
  $("links").replaceChildren(
    h("h2", { id: "links-title" }, reset ? "Choose a new password" : "Confirm your e-mail address"), form);
}

function followLink() {
  const match = /^#(verify-email|reset-password)=(.+)$/.exec(location.hash);
  if (match) linkForm(match[1], decodeURIComponent(match[2]));
}

window.addEventListener("hashchange", followLink);
window.addEventListener("session-ended", () => {
  $("account").replaceChildren();
  alarm(SESSION_ENDED);
  signInScreen();
});

async function start() {
  followLink();
  try {
    fields = (await graphql(PROFILE_FIELDS)).profileFields;
    if (!(await signedIn())) signInScreen();
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === "UNAUTHENTICATED") signInScreen();
    else alarm(failure.message);
  }
}

start();
