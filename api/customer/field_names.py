"""The GraphQL enum of profile field names, shared by the operations that name fields."""

import strawberry

from domain.profile.policy import ProfileFieldName

ProfileFieldNameEnum = strawberry.enum(
    ProfileFieldName, name="ProfileFieldName", description="Every field of the profile."
)
