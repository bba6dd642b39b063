// Taking a copy, erasing the account, the privacy policy, and the history of everything done
// with the person's information.

import {
  ACKNOWLEDGE_POLICY, CONFIRM_DELETION, graphql, REQUEST_DELETION, REQUEST_EXPORT,
} from "./api.js";
import { alarm, announce, h, table, when, words } from "./dom.js";
import { label } from "./profile.js";

function busy(button, work) {
  return async (event) => {
    event?.preventDefault();
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      alarm(error.message);
    } finally {
      button.disabled = false;
    }
  };
}

export function exportSection(refresh) {
  const button = h("button", { type: "button", id: "export-button" }, "Download a copy of your data");
  const result = h("p", { id: "export-result", "aria-live": "polite" });
  button.addEventListener("click", busy(button, async () => {
    const payload = (await graphql(REQUEST_EXPORT)).requestDataExport;
    if (payload.errors.length) { alarm(payload.errors[0].message); return; }
    const link = h("a", { href: payload.export.downloadUrl, download: "", id: "export-link" },
      "Download the JSON file");
    result.replaceChildren("Your copy is ready until ", when(payload.export.expiresAt), ". ", link);
    announce("Your copy is ready; the download starts now.");
    link.click();
    await refresh();
  }));
  return h("section", { id: "export", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, "A copy of your data"),
    h("p", { class: "hint" }, "Everything we hold about you, as one JSON file."), button, result);
}

export function deletionSection(onDeleted) {
  const error = h("p", { class: "error", id: "delete-error", "aria-live": "polite" });
  const ask = h("form", { id: "delete-request-form", novalidate: true },
    h("div", { class: "field" },
      h("label", { for: "delete-password" }, "Your password"),
      h("input", { id: "delete-password", type: "password", autocomplete: "current-password",
        required: true, "aria-describedby": "delete-error" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Delete my account")));
  const confirm = h("form", { id: "delete-confirm-form", novalidate: true, hidden: true },
    h("p", {}, "We e-mailed you a code. Enter it to erase your account for good."),
    h("div", { class: "field" },
      h("label", { for: "delete-code" }, "Code from the e-mail"),
      h("input", { id: "delete-code", autocomplete: "one-time-code", required: true,
        "aria-describedby": "delete-error" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Erase my account now")));
  ask.addEventListener("submit", busy(ask.querySelector("button"), async () => {
    const password = ask.querySelector("#delete-password").value;
    if (!password) { error.textContent = "Enter your password to confirm it is you."; return; }
    const payload = (await graphql(REQUEST_DELETION, { input: { password } })).requestAccountDeletion;
    ask.querySelector("#delete-password").value = "";
    if (payload.errors.length) { error.textContent = payload.errors[0].message; return; }
    error.textContent = "";
    ask.hidden = true;
    confirm.hidden = false;
    confirm.querySelector("#delete-code").focus();
    announce("A code is on its way to your e-mail address.");
  }));
  confirm.addEventListener("submit", busy(confirm.querySelector("button"), async () => {
    const token = confirm.querySelector("#delete-code").value.trim();
    if (!token) { error.textContent = "Enter the code from the e-mail."; return; }
    const payload = (await graphql(CONFIRM_DELETION, { input: { token } })).confirmAccountDeletion;
    if (payload.errors.length) { error.textContent = payload.errors[0].message; return; }
    onDeleted();
  }));
  return h("section", { id: "delete", "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete your account"),
    h("p", { class: "hint" }, "Your account and everything held about you are erased; only a pseudonymous record of your consent choices and requests remains as evidence."),
    ask, confirm, error);
}

function policyBlock(title, policy, acknowledged, refresh) {
  if (!policy) return null;
  const done = acknowledged.has(policy.version);
  const button = h("button", { type: "button", class: "secondary", id: `acknowledge-${policy.version}` },
    `Acknowledge version ${policy.version}`);
  button.addEventListener("click", busy(button, async () => {
    const payload = (await graphql(ACKNOWLEDGE_POLICY, { input: { version: policy.version } })).acknowledgePolicy;
    if (payload.errors.length) { alarm(payload.errors[0].message); return; }
    announce(`You acknowledged version ${policy.version}.`);
    await refresh();
  }));
  return h("div", {},
    h("h3", {}, `${title}: version ${policy.version}`),
    h("p", {}, policy.summary),
    h("p", {}, "In force from ", when(policy.effectiveAt), ". ",
      h("a", { href: policy.url, rel: "noopener noreferrer" }, "Read the full text")),
    done ? h("p", { class: "hint" }, "You acknowledged this version.") : h("div", { class: "actions" }, button));
}

export function policySection(policies, customer, refresh) {
  const acknowledged = new Set(customer.policyAcknowledgements.map((ack) => ack.version));
  const blocks = [
    policyBlock("Current policy", policies.currentPolicy, acknowledged, refresh),
    policyBlock("Upcoming policy", policies.upcomingPolicy, acknowledged, refresh),
  ].filter(Boolean);
  return h("section", { id: "policy", "aria-labelledby": "policy-title" },
    h("h2", { id: "policy-title" }, "Privacy policy"),
    blocks.length ? blocks : h("p", { class: "empty" }, "No privacy policy has been published here yet."));
}

const nodes = (connection) => connection.edges.map((edge) => edge.node);

export function historySection(history) {
  const choice = (entry) => (entry.topic ? words(entry.topic) : words(entry.purpose));
  return h(
    "section", { id: "history", class: "wide", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, "What happened with your information"),
    table("Consent history", ["When", "Choice", "Now", "Before", "By", "How"],
      nodes(history.consentHistory).map((entry) => [
        when(entry.occurredAt), choice(entry), entry.granted ? "On" : "Off",
        entry.previous == null ? "—" : entry.previous ? "On" : "Off",
        words(entry.actor), words(entry.source),
      ])),
    table("Requests", ["Type", "Status", "Received", "Due", "Completed"],
      nodes(history.requests).map((request) => [
        words(request.type), words(request.status), when(request.receivedAt),
        request.clockPaused ? "Waiting for us to confirm it is you" : when(request.dueAt),
        when(request.completedAt) || "—",
      ])),
    table("Profile changes", ["When", "Field", "By"],
      nodes(history.profileChanges).map((change) => [when(change.changedAt), label(change.field), words(change.actor)])),
    table("Who looked at your record", ["When", "Reason", "Note", "Staff member", "What"],
      nodes(history.accessLog).map((look) => [
        when(look.occurredAt), words(look.reason), look.note ?? "—",
        `${words(look.staffRole)} ${look.staffReference}`, words(look.operation),
      ])),
  );
}
