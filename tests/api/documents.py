"""GraphQL documents the API tests send, as a front end would."""

CUSTOMER_FIELDS = """
    id email emailVerified name companyName phone title department fax industry
    employeeCount annualRevenue { amount currency }
    address { line1 line2 city region postalCode country }
    billing {
      name organizationUsers
      address { line1 line2 city region postalCode country }
      card { brand last4 expMonth expYear }
    }
    createdAt updatedAt version
"""

REGISTER = f"""
mutation Register($input: RegisterInput!) {{
  register(input: $input) {{
    token
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

LOGIN = f"""
mutation Login($input: LoginInput!) {{
  login(input: $input) {{
    token
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

LOGOUT = "mutation { logout { ended errors { code } } }"

ME = f"query Me {{ me {{ {CUSTOMER_FIELDS} }} }}"

UPDATE_PROFILE = f"""
mutation UpdateProfile($input: UpdateProfileInput!) {{
  updateProfile(input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

REMOVE_OPTIONAL = f"""
mutation Remove($input: RemoveOptionalInformationInput!) {{
  removeOptionalInformation(input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

UPDATE_CARD = f"""
mutation Card($input: UpdatePaymentCardInput!) {{
  updatePaymentCard(input: $input) {{
    customer {{ {CUSTOMER_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

CHANGE_PASSWORD = """
mutation Change($input: ChangePasswordInput!) {
  changePassword(input: $input) { changed errors { field code message } }
}
"""

REQUEST_RESET = """
mutation RequestReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { accepted errors { field code message } }
}
"""

RESET_PASSWORD = """
mutation Reset($input: ResetPasswordInput!) {
  resetPassword(input: $input) { reset errors { field code message } }
}
"""

VERIFY_EMAIL = """
mutation Verify($input: VerifyEmailInput!) {
  verifyEmail(input: $input) { verified errors { field code message } }
}
"""

PROFILE_FIELDS = """
query { profileFields { name path mandatory removable kind maxLength minValue maxValue } }
"""

PREFERENCES = """
query {
  me {
    communicationPreferences { topic subscribed updatedAt }
    sharingPreferences { purpose granted updatedAt }
  }
}
"""

HISTORY = """
query History($first: Int!, $after: String) {
  me {
    consentHistory(first: $first, after: $after) {
      edges { cursor node { topic purpose granted previous occurredAt actor source policyVersion } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

SET_COMMUNICATION = """
mutation Set($input: SetCommunicationPreferencesInput!) {
  setCommunicationPreferences(input: $input) {
    communicationPreferences { topic subscribed updatedAt }
    errors { field code message }
  }
}
"""

OPT_OUT_OF_ALL = """
mutation {
  optOutOfAllCommunications {
    communicationPreferences { topic subscribed updatedAt }
    errors { field code message }
  }
}
"""

SET_SHARING = """
mutation Share($input: SetSharingPreferencesInput!) {
  setSharingPreferences(input: $input) {
    sharingPreferences { purpose granted updatedAt }
    errors { field code message }
  }
}
"""

REQUEST_DELETION = """
mutation Delete($input: RequestAccountDeletionInput!) {
  requestAccountDeletion(input: $input) {
    request { id type status channel dueAt }
    errors { field code message }
  }
}
"""

CONFIRM_DELETION = """
mutation Confirm($input: ConfirmAccountDeletionInput!) {
  confirmAccountDeletion(input: $input) { deleted errors { field code message } }
}
"""
