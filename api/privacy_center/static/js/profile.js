// The profile: what is held, a form rendered from profileFields (the rules the service
// enforces), removal of optional information, and the card.

import { graphql, REMOVE_OPTIONAL, UPDATE_CARD, UPDATE_PROFILE } from "./api.js";
import { alarm, announce, h } from "./dom.js";

const LABELS = {
  EMAIL: "E-mail address", NAME: "Name", COMPANY_NAME: "Company name", PHONE: "Phone",
  ADDRESS_LINE1: "Address line 1", ADDRESS_LINE2: "Address line 2", ADDRESS_CITY: "City",
  ADDRESS_REGION: "Region", ADDRESS_POSTAL_CODE: "Postal code", ADDRESS_COUNTRY: "Country (2 letters)",
  BILLING_NAME: "Billing name", BILLING_ADDRESS_LINE1: "Billing address line 1",
  BILLING_ADDRESS_LINE2: "Billing address line 2", BILLING_ADDRESS_CITY: "Billing city",
  BILLING_ADDRESS_REGION: "Billing region", BILLING_ADDRESS_POSTAL_CODE: "Billing postal code",
  BILLING_ADDRESS_COUNTRY: "Billing country (2 letters)",
  BILLING_ORGANIZATION_USERS: "Users in your organisation", BILLING_CARD: "Payment card",
  TITLE: "Title", DEPARTMENT: "Department", FAX: "Fax", ANNUAL_REVENUE: "Annual revenue",
  EMPLOYEE_COUNT: "Number of employees", INDUSTRY: "Industry",
};

export const label = (name) => LABELS[name] || name;

function valueAt(customer, path) {
  return path.reduce((value, part) => (value == null ? null : value[part]), customer);
}

function shown(spec, customer) {
  const value = valueAt(customer, spec.path);
  if (value == null) return "";
  if (spec.kind === "MONEY") return `${value.amount} ${value.currency}`;
  if (spec.kind === "PAYMENT_CARD") return `${value.brand} ending ${value.last4}`;
  return String(value);
}

function group(spec) {
  if (spec.path[0] === "billing") return "Billing details";
  if (spec.mandatory || spec.path[0] === "address") return "Contact details";
  return "Optional information";
}

const id = (spec, part = "") => `field-${spec.name}${part}`.toLowerCase();

function control(spec, customer) {
  const value = valueAt(customer, spec.path);
  const described = `${id(spec)}-error`;
  const hinted = spec.mandatory ? "" : `${id(spec)}-hint `;
  const common = {
    "aria-describedby": `${hinted}${described}`, "aria-required": spec.mandatory ? "true" : false,
  };
  const mark = spec.mandatory ? h("span", { class: "mandatory", "aria-hidden": "true" }, " *") : null;
  const title = h("label", { for: id(spec) }, label(spec.name), mark);
  const error = h("p", { class: "error", id: described, "aria-live": "polite" });
  if (spec.kind === "MONEY") {
    return h(
      "fieldset", { class: "field", "aria-describedby": described },
      h("legend", {}, label(spec.name)),
      h("p", { class: "hint", id: `${id(spec)}-hint` }, "Optional: leave both empty to remove it."),
      h("label", { for: id(spec) }, "Amount"),
      h("input", { ...common, id: id(spec), type: "number", inputmode: "decimal", step: "0.01",
        min: spec.minValue ?? false, max: spec.maxValue ?? false, value: value ? value.amount : "" }),
      h("label", { for: id(spec, "-currency") }, "Currency (3 letters)"),
      h("input", { ...common, id: id(spec, "-currency"), maxlength: 3, autocapitalize: "characters",
        value: value ? value.currency : "" }),
      error,
    );
  }
  const attributes = { ...common, id: id(spec), name: spec.path.join("."), value: value ?? "" };
  if (spec.kind === "INTEGER") {
    Object.assign(attributes, { type: "number", inputmode: "numeric", step: 1,
      min: spec.minValue ?? false, max: spec.maxValue ?? false });
  } else {
    const type = { EMAIL: "email", PHONE: "tel" }[spec.kind] || "text";
    Object.assign(attributes, { type, maxlength: spec.maxLength ?? false });
    if (spec.kind === "EMAIL") attributes.autocomplete = "email";
    if (spec.kind === "PHONE" && spec.name === "PHONE") attributes.autocomplete = "tel";
  }
  const hint = spec.mandatory ? null
    : h("p", { class: "hint", id: `${id(spec)}-hint` }, "Optional: leave empty to remove it.");
  return h("div", { class: "field" }, title, hint, h("input", attributes), error);
}

// Every problem with what the person typed, checked against the published rules before
// anything is sent; the service checks again.
function problem(spec, raw, currency) {
  if (spec.kind === "MONEY") {
    if (!raw && !currency) return null;
    if (!raw || Number.isNaN(Number(raw))) return "Enter an amount.";
    if (spec.minValue != null && Number(raw) < spec.minValue) return `At least ${spec.minValue}.`;
    if (spec.maxValue != null && Number(raw) > spec.maxValue) return `At most ${spec.maxValue}.`;
    if (!/^[A-Za-z]{3}$/.test(currency)) return "Enter a three-letter currency code such as EUR.";
    return null;
  }
  if (!raw) return spec.mandatory ? "This field is required: it can be changed but not emptied." : null;
  if (spec.maxLength != null && raw.length > spec.maxLength) return `At most ${spec.maxLength} characters.`;
  if (spec.kind === "INTEGER") {
    if (!/^-?\d+$/.test(raw)) return "Enter a whole number.";
    if (spec.minValue != null && Number(raw) < spec.minValue) return `At least ${spec.minValue}.`;
    if (spec.maxValue != null && Number(raw) > spec.maxValue) return `At most ${spec.maxValue}.`;
  }
  if (spec.kind === "COUNTRY" && !/^[A-Za-z]{2}$/.test(raw)) return "Enter a two-letter country code such as GB.";
  return null;
}

function setIn(target, path, value) {
  const last = path[path.length - 1];
  const parent = path.slice(0, -1).reduce((node, part) => (node[part] ??= {}), target);
  parent[last] = value;
}

function showError(form, elementId, message) {
  const input = form.querySelector(`#${elementId}`);
  const error = form.querySelector(`#${elementId}-error`);
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
  if (error) error.textContent = message || "";
}

// The field a UserError's path names: the longest profile field path it starts with.
export function fieldFor(specs, path) {
  let best = null;
  for (const spec of specs) {
    const prefix = spec.path.every((part, i) => path[i] === part);
    if (prefix && (!best || spec.path.length > best.path.length)) best = spec;
  }
  return best;
}

export function profileSection(customer, specs, refresh) {
  const editable = specs.filter((spec) => spec.kind !== "PAYMENT_CARD");
  const formError = h("p", { class: "error", id: "profile-form-error", "aria-live": "polite" });
  const groups = new Map();
  for (const spec of editable) {
    if (!groups.has(group(spec))) groups.set(group(spec), []);
    groups.get(group(spec)).push(control(spec, customer));
  }
  const password = h(
    "div", { class: "field" },
    h("label", { for: "field-current-password" }, "Current password"),
    h("p", { class: "hint", id: "field-current-password-hint" }, "Needed only to change the e-mail address."),
    h("input", { id: "field-current-password", type: "password", autocomplete: "current-password",
      "aria-describedby": "field-current-password-hint field-current-password-error" }),
    h("p", { class: "error", id: "field-current-password-error", "aria-live": "polite" }),
  );
  const form = h(
    "form", { id: "profile-form", novalidate: true },
    h("p", { class: "hint" }, "Fields marked ", h("span", { class: "mandatory" }, "*"), " are mandatory."),
    [...groups].map(([legend, controls]) =>
      h("fieldset", {}, h("legend", {}, legend), h("div", { class: "grid" }, controls))),
    password, formError,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save changes")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    const patch = {};
    let invalid = null;
    for (const spec of editable) {
      const input = form.querySelector(`#${id(spec)}`);
      const raw = input.value.trim();
      const currency = spec.kind === "MONEY" ? form.querySelector(`#${id(spec, "-currency")}`).value.trim().toUpperCase() : "";
      const message = problem(spec, raw, currency);
      showError(form, id(spec), message);
      if (message) { invalid ??= input; continue; }
      const before = valueAt(customer, spec.path);
      if (spec.kind === "MONEY") {
        const changed = raw !== (before ? String(before.amount) : "") || currency !== (before ? before.currency : "");
        if (changed) setIn(patch, spec.path, raw ? { amount: raw, currency } : null);
      } else if (raw !== (before == null ? "" : String(before))) {
        const value = !raw ? null : spec.kind === "INTEGER" ? Number(raw) : raw;
        setIn(patch, spec.path, value);
      }
    }
    if (invalid) {
      formError.textContent = "Some fields need attention; see the messages next to them.";
      invalid.focus();
      return;
    }
    if (!Object.keys(patch).length) { announce("Nothing changed."); return; }
    const currentPassword = form.querySelector("#field-current-password").value;
    if (patch.email && currentPassword) patch.currentPassword = currentPassword;
    await submit(form, formError, specs, UPDATE_PROFILE, "updateProfile",
      { ...patch, expectedVersion: customer.version }, refresh, "Your profile was saved.");
  });
  const summary = h("dl", { id: "profile-summary" },
    specs.map((spec) => [h("dt", {}, label(spec.name)), h("dd", {}, shown(spec, customer) || "—")]),
    h("dt", {}, "E-mail confirmed"), h("dd", {}, customer.emailVerified ? "Yes" : "Not yet"));
  return h(
    "section", { id: "profile", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Your profile"),
    h("details", {}, h("summary", {}, "What we hold about you"), summary),
    h("h3", {}, "Correct your profile"),
    form,
  );
}

async function submit(form, formError, specs, document_, name, input, refresh, done) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const payload = (await graphql(document_, { input }))[name];
    if (payload.errors.length) {
      let first = null;
      for (const error of payload.errors) {
        const path = error.field || [];
        const spec = path.length ? fieldFor(specs, path) : null;
        const target = path[0] === "currentPassword" ? "field-current-password"
          : path[0] === "card" ? `card-${path[1] || "number"}`.toLowerCase()
          : spec ? id(spec) : null;
        if (target && form.querySelector(`#${target}`)) {
          showError(form, target, error.message);
          first ??= form.querySelector(`#${target}`);
        } else {
          formError.textContent = error.code === "CONFLICT"
            ? "Your profile changed elsewhere since this page loaded. Reload the page and try again."
            : error.message;
        }
      }
      if (first) {
        formError.textContent ||= "The service refused some fields; see the messages next to them.";
        first.focus();
      }
      return;
    }
    announce(done);
    await refresh(payload.customer);
  } catch (error) {
    alarm(error.message);
  } finally {
    button.disabled = false;
  }
}

export function removalSection(customer, specs, refresh) {
  const removable = specs.filter((spec) => spec.removable && shown(spec, customer));
  const formError = h("p", { class: "error", id: "remove-form-error", "aria-live": "polite" });
  if (!removable.length) {
    return h("section", { id: "remove", "aria-labelledby": "remove-title" },
      h("h2", { id: "remove-title" }, "Remove optional information"),
      h("p", { class: "empty" }, "You have no optional information on file."));
  }
  const form = h(
    "form", { id: "remove-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Choose what to remove"),
      removable.map((spec) => h("div", { class: "field inline" },
        h("input", { type: "checkbox", id: `remove-${spec.name}`.toLowerCase(), value: spec.name }),
        h("label", { for: `remove-${spec.name}`.toLowerCase() }, `${label(spec.name)}: ${shown(spec, customer)}`)))),
    formError,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Remove selected")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = [...form.querySelectorAll("input:checked")].map((box) => box.value);
    if (!fields.length) { formError.textContent = "Choose at least one item to remove."; return; }
    await submit(form, formError, specs, REMOVE_OPTIONAL, "removeOptionalInformation",
      { fields, expectedVersion: customer.version }, refresh, "The information you chose was removed.");
  });
  return h("section", { id: "remove", "aria-labelledby": "remove-title" },
    h("h2", { id: "remove-title" }, "Remove optional information"),
    h("p", { class: "hint" }, "You can opt out of providing these at any time."), form);
}

export function cardSection(customer, specs, refresh) {
  const card = customer.billing.card;
  const formError = h("p", { class: "error", id: "card-form-error", "aria-live": "polite" });
  const input = (key, text, attributes) => h(
    "div", { class: "field" },
    h("label", { for: `card-${key}` }, text),
    h("input", { id: `card-${key}`, required: true, "aria-describedby": `card-${key}-error`, ...attributes }),
    h("p", { class: "error", id: `card-${key}-error`, "aria-live": "polite" }),
  );
  const form = h(
    "form", { id: "card-form", novalidate: true },
    h("div", { class: "grid" },
      input("number", "Card number", { inputmode: "numeric", autocomplete: "cc-number", maxlength: 23 }),
      input("cvc", "Security code", { inputmode: "numeric", autocomplete: "cc-csc", maxlength: 4 }),
      input("expmonth", "Expiry month", { type: "number", min: 1, max: 12, autocomplete: "cc-exp-month" }),
      input("expyear", "Expiry year (4 digits)", { type: "number", min: 2000, max: 2100, autocomplete: "cc-exp-year" })),
    formError,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Replace card")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (key) => form.querySelector(`#card-${key}`).value.trim();
    const checks = {
      number: /^[\d -]{12,23}$/.test(value("number")) ? null : "Enter the card number (digits only).",
      cvc: /^\d{3,4}$/.test(value("cvc")) ? null : "Enter the 3 or 4 digit security code.",
      expmonth: /^\d{1,2}$/.test(value("expmonth")) && +value("expmonth") >= 1 && +value("expmonth") <= 12 ? null : "Enter a month from 1 to 12.",
      expyear: /^\d{4}$/.test(value("expyear")) ? null : "Enter the year in four digits.",
    };
    for (const [key, message] of Object.entries(checks)) showError(form, `card-${key}`, message);
    const wrong = Object.keys(checks).find((key) => checks[key]);
    if (wrong) { form.querySelector(`#card-${wrong}`).focus(); return; }
    const input_ = {
      card: { number: value("number"), cvc: value("cvc"), expMonth: +value("expmonth"), expYear: +value("expyear") },
      expectedVersion: customer.version,
    };
    // The number and code leave the page once and are not kept in it.
    form.querySelector("#card-number").value = "";
    form.querySelector("#card-cvc").value = "";
    await submit(form, formError, specs, UPDATE_CARD, "updatePaymentCard", input_, refresh, "Your card was replaced.");
  });
  return h(
    "section", { id: "card", "aria-labelledby": "card-title" },
    h("h2", { id: "card-title" }, "Payment card"),
    h("p", { id: "card-on-file" }, `${card.brand} ending ${card.last4}, expires ${String(card.expMonth).padStart(2, "0")}/${card.expYear}`),
    h("p", { class: "hint" }, "Only the brand and the last four digits are ever shown. The full number goes to the card vault."),
    h("h3", {}, "Replace the card"),
    form,
  );
}
