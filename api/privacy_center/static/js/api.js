// The page's only way to the service: the public /graphql, signed in by the HttpOnly session
// cookie. Cookie requests must be JSON from this origin (the API's CSRF rule), which fetch
// with credentials "same-origin" and a JSON body is.

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export const SESSION_ENDED = "Your session has ended. Sign in again to go on.";

const hashes = new Map();

// The document's SHA-256, the name it is trusted under (api/privacy_center/
// persisted-documents.json); null where the browser offers no digest (plain HTTP elsewhere
// than this machine).
async function documentHash(query) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  if (!hashes.has(query)) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(query));
    hashes.set(query, [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return hashes.get(query);
}

export async function graphql(query, variables = {}) {
  let response;
  try {
    // The text goes with its hash, so the service runs it as a trusted document where the
    // page's documents are loaded (and refuses nothing where they are not required).
    const sha256Hash = await documentHash(query);
    const extensions = sha256Hash ? { persistedQuery: { version: 1, sha256Hash } } : undefined;
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables, extensions }),
    });
  } catch {
    throw new ApiError("The service cannot be reached. Check your connection and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status}. Try again shortly.`, "HTTP");
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = (first.extensions && first.extensions.code) || "ERROR";
    let message = first.message;
    if (code === "RATE_LIMITED" && first.extensions.retryAfter) {
      message = `Too many attempts. Try again in ${first.extensions.retryAfter} seconds.`;
    }
    if (code === "UNAUTHENTICATED") {
      // The session ended (idle, signed out elsewhere, password changed): back to sign-in.
      message = SESSION_ENDED;
      window.dispatchEvent(new CustomEvent("session-ended"));
    }
    throw new ApiError(message, code);
  }
  return body.data;
}

const CARD = "card { brand last4 expMonth expYear }";
const ADDRESS = "line1 line2 city region postalCode country";

export const CUSTOMER = `
  id email emailVerified name companyName phone title department fax industry employeeCount
  annualRevenue { amount currency }
  address { ${ADDRESS} }
  billing { name organizationUsers address { ${ADDRESS} } ${CARD} }
  version
  communicationPreferences { topic subscribed updatedAt }
  sharingPreferences { purpose granted updatedAt }
  policyAcknowledgements { version acknowledgedAt }
`;

const ERRORS = "errors { field code message }";

export const ME = `query PrivacyCenterMe { me { ${CUSTOMER} } }`;

export const HISTORY = `query PrivacyCenterHistory {
  me {
    consentHistory(first: 20) { edges { node {
      topic purpose granted previous occurredAt actor source policyVersion } } }
    accessLog(first: 20) { edges { node {
      occurredAt reason note operation staffRole staffReference } } }
    profileChanges(first: 20) { edges { node { field path changedAt actor } } }
    requests(first: 20) { edges { node {
      id type channel status receivedAt dueAt clockPaused completedAt } } }
  }
}`;

export const PROFILE_FIELDS = `query PrivacyCenterFields {
  profileFields { name path mandatory removable kind maxLength minValue maxValue }
}`;

export const POLICIES = `query PrivacyCenterPolicies {
  currentPolicy { version summary url announcedAt effectiveAt }
  upcomingPolicy { version summary url announcedAt effectiveAt }
}`;

export const LOGIN = `mutation PrivacyCenterLogin($input: LoginInput!) {
  login(input: $input) { customer { id } ${ERRORS} }
}`;

export const LOGOUT = "mutation PrivacyCenterLogout { logout { ended errors { code message } } }";

export const UPDATE_PROFILE = `mutation PrivacyCenterUpdate($input: UpdateProfileInput!) {
  updateProfile(input: $input) { customer { ${CUSTOMER} } ${ERRORS} }
}`;

export const REMOVE_OPTIONAL = `mutation PrivacyCenterRemove($input: RemoveOptionalInformationInput!) {
  removeOptionalInformation(input: $input) { customer { ${CUSTOMER} } ${ERRORS} }
}`;

export const UPDATE_CARD = `mutation PrivacyCenterCard($input: UpdatePaymentCardInput!) {
  updatePaymentCard(input: $input) { customer { ${CUSTOMER} } ${ERRORS} }
}`;

export const SET_COMMUNICATION = `mutation PrivacyCenterTopics($input: SetCommunicationPreferencesInput!) {
  setCommunicationPreferences(input: $input) {
    communicationPreferences { topic subscribed updatedAt } ${ERRORS}
  }
}`;

export const OPT_OUT = `mutation PrivacyCenterOptOut {
  optOutOfAllCommunications { communicationPreferences { topic subscribed updatedAt } ${ERRORS} }
}`;

export const SET_SHARING = `mutation PrivacyCenterSharing($input: SetSharingPreferencesInput!) {
  setSharingPreferences(input: $input) { sharingPreferences { purpose granted updatedAt } ${ERRORS} }
}`;

export const REQUEST_EXPORT = `mutation PrivacyCenterExport {
  requestDataExport { export { id expiresAt downloadUrl } ${ERRORS} }
}`;

export const REQUEST_DELETION = `mutation PrivacyCenterDelete($input: RequestAccountDeletionInput!) {
  requestAccountDeletion(input: $input) { request { id dueAt } ${ERRORS} }
}`;

export const CONFIRM_DELETION = `mutation PrivacyCenterConfirmDelete($input: ConfirmAccountDeletionInput!) {
  confirmAccountDeletion(input: $input) { deleted ${ERRORS} }
}`;

export const ACKNOWLEDGE_POLICY = `mutation PrivacyCenterAcknowledge($input: AcknowledgePolicyInput!) {
  acknowledgePolicy(input: $input) { acknowledgement { version acknowledgedAt } ${ERRORS} }
}`;

export const VERIFY_EMAIL = `mutation PrivacyCenterVerify($input: VerifyEmailInput!) {
  verifyEmail(input: $input) { verified ${ERRORS} }
}`;

export const RESET_PASSWORD = `mutation PrivacyCenterReset($input: ResetPasswordInput!) {
  resetPassword(input: $input) { reset ${ERRORS} }
}`;
