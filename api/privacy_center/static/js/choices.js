// Communication topics and sharing purposes: each a switch that takes effect at once, and one
// button that opts out of every optional topic.

import { graphql, OPT_OUT, SET_COMMUNICATION, SET_SHARING } from "./api.js";
import { alarm, announce, h, words } from "./dom.js";

const TOPICS = {
  NEWSLETTER: "Newsletter",
  PROMOTIONS_AND_EVENTS: "Promotions and events",
  PRODUCT_UPDATES: "Product updates",
  SALES_FOLLOW_UP: "Contact to follow up on your interest",
  ACCOUNT_AND_SECURITY: "Account and security messages (always on)",
};

const PURPOSES = {
  PARTNER_OFFERS: "Offers from partners",
  INTEGRATION_PARTNERS: "Integration partners",
  ANALYTICS_COOKIES: "Analytics cookies",
  AGGREGATE_STATISTICS: "Inclusion in aggregate, non-identifying statistics",
};

async function change(box, document_, name, input, refresh, done, refused = null) {
  box.disabled = true;
  try {
    const payload = (await graphql(document_, { input }))[name];
    if (payload.errors.length) {
      box.checked = !box.checked;
      if (!refused || !refused(payload.errors)) {
        alarm(payload.errors.map((error) => error.message).join(" "));
      }
      return;
    }
    alarm("");
    announce(done);
    await refresh();
  } catch (error) {
    box.checked = !box.checked;
    alarm(error.message);
  } finally {
    box.disabled = box.dataset.locked === "true";
  }
}

// Global Privacy Control: the browser asks that nothing be shared, so a grant needs the
// person to say, having been told, that they want it all the same.
function gpcConflict(errors, conflict, box, confirm) {
  const error = errors.find((e) => e.code === "GPC_CONFLICT");
  if (!error) return false;
  const button = h("button", { type: "button", class: "secondary", id: `${box.id}-override` },
    "Allow it anyway");
  button.addEventListener("click", confirm);
  conflict.replaceChildren(h("p", { class: "error" }, error.message), button);
  button.focus();
  return true;
}

export function choicesSection(customer, refresh) {
  const topics = customer.communicationPreferences.map((preference) => {
    const locked = preference.topic === "ACCOUNT_AND_SECURITY";
    const box = h("input", {
      type: "checkbox", id: `topic-${preference.topic}`.toLowerCase(), checked: preference.subscribed,
      disabled: locked, "data-locked": String(locked),
    });
    box.addEventListener("change", () => {
      const choice = { topic: preference.topic, subscribed: box.checked };
      const state = box.checked ? "on" : "off";
      change(box, SET_COMMUNICATION, "setCommunicationPreferences", { preferences: [choice] },
        refresh, `${TOPICS[preference.topic] || words(preference.topic)}: ${state}.`);
    });
    return h("div", { class: "field inline" }, box,
      h("label", { for: box.id }, TOPICS[preference.topic] || words(preference.topic)));
  });
  const purposes = customer.sharingPreferences.map((preference) => {
    const box = h("input", {
      type: "checkbox", id: `purpose-${preference.purpose}`.toLowerCase(), checked: preference.granted,
    });
    const title = PURPOSES[preference.purpose] || words(preference.purpose);
    const conflict = h("div", { class: "conflict", id: `${box.id}-gpc`, "aria-live": "polite" });
    const grant = (override) => {
      const choice = { purpose: preference.purpose, granted: box.checked };
      const state = box.checked ? "allowed" : "not allowed";
      const input = { preferences: [choice], overrideGlobalPrivacyControl: override };
      conflict.replaceChildren();
      change(box, SET_SHARING, "setSharingPreferences", input, refresh, `${title}: ${state}.`,
        (errors) => gpcConflict(errors, conflict, box, () => { box.checked = true; grant(true); }));
    };
    box.addEventListener("change", () => grant(false));
    return h("div", {}, h("div", { class: "field inline" }, box, h("label", { for: box.id }, title)), conflict);
  });
  const optOut = h("button", { type: "button", class: "secondary", id: "opt-out-all" },
    "Opt out of all communications");
  optOut.addEventListener("click", async () => {
    optOut.disabled = true;
    try {
      const payload = (await graphql(OPT_OUT)).optOutOfAllCommunications;
      if (payload.errors.length) { alarm(payload.errors[0].message); return; }
      announce("You will receive no optional messages.");
      await refresh();
    } catch (error) {
      alarm(error.message);
    } finally {
      optOut.disabled = false;
    }
  });
  return h(
    "section", { id: "choices", "aria-labelledby": "choices-title" },
    h("h2", { id: "choices-title" }, "Your choices"),
    h("fieldset", {}, h("legend", {}, "What we may write to you about"), topics,
      h("div", { class: "actions" }, optOut)),
    h("fieldset", {}, h("legend", {}, "What your information may be shared for"), purposes),
    h("p", { class: "hint" }, "Each change takes effect at once and is kept in your consent history."),
  );
}
