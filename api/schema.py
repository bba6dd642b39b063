"""The Strawberry schema, assembled from the operations of each audience."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext, ExecutionResult

from api import policy as privacy_policy
from api import statistics
from api.availability import MaskFaults, is_unavailable, log_unavailable, unavailable_error
from api.customer import consent, erasure, export, passwords, profile
from api.customer import login as sign_in
from api.customer import profile_fields as policy
from api.customer import register as registration
from api.errors import MASKED_MESSAGE, is_deliberate, redact
from api.limits import QueryLimits
from api.partner import consent as partner_consent
from api.partner import webhooks as partner_webhooks
from api.settings import Settings
from api.staff import login as staff_sign_in
from api.staff import records as staff_records
from api.staff import requests as staff_requests
from api.validation import DocumentValidation, document_preparation

log = logging.getLogger("datarights.graphql")


@strawberry.type
class Query:
    me = profile.me
    profile_fields = policy.profile_fields
    consent_states = partner_consent.consent_states
    consent_state_at = partner_consent.consent_state_at
    consent_changes = partner_consent.consent_changes
    webhook_deliveries = partner_webhooks.webhook_deliveries
    current_policy = privacy_policy.current_policy
    upcoming_policy = privacy_policy.upcoming_policy
    policy_notice_period = privacy_policy.policy_notice_period
    policy_notices = privacy_policy.policy_notices
    aggregate_statistics = statistics.aggregate_statistics
    find_customer = staff_records.find_customer
    customer_record = staff_records.customer_record
    requests = staff_requests.requests_queue


@strawberry.type
class Mutation:
    register = registration.register
    login = sign_in.login
    logout = sign_in.logout
    change_password = passwords.change_password
    request_password_reset = passwords.request_password_reset
    reset_password = passwords.reset_password
    verify_email = passwords.verify_email
    update_profile = profile.update_profile
    update_payment_card = profile.update_payment_card
    remove_optional_information = profile.remove_optional_information
    set_communication_preferences = consent.set_communication_preferences
    opt_out_of_all_communications = consent.opt_out_of_all_communications
    set_sharing_preferences = consent.set_sharing_preferences
    request_data_export = export.request_data_export
    request_account_deletion = erasure.request_account_deletion
    confirm_account_deletion = erasure.confirm_account_deletion
    acknowledge_policy = privacy_policy.acknowledge_policy
    publish_policy_version = privacy_policy.publish_policy_version
    staff_login = staff_sign_in.staff_login
    staff_logout = staff_sign_in.staff_logout
    record_email_request = staff_requests.record_email_request
    verify_request_identity = staff_requests.verify_request_identity
    extend_request = staff_requests.extend_request
    reject_request = staff_requests.reject_request
    complete_request = staff_requests.complete_request
    cancel_request = staff_requests.cancel_request
    change_customer_preferences = staff_requests.change_customer_preferences


class DataRightsSchema(strawberry.Schema):
    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        # A fault raised while the document is parsed or validated (a validation rule failing,
        # say) leaves the operation before MaskErrors sees the result: it is masked here, after
        # process_errors has logged it in full.
        if result.errors:
            result.errors = [e if is_deliberate(e) else masked(e) for e in result.errors]
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in log_unavailable(errors):
            if is_deliberate(error):
                log.info("request refused: %s", redact(error.message))
            else:
                log.error(
                    "unexpected error in %s",
                    ".".join(str(p) for p in error.path or ()) or "the request",
                    exc_info=error.original_error,
                )


def masked(error: GraphQLError) -> GraphQLError:
    if is_unavailable(error.original_error):
        return unavailable_error(error)  # not a fault to hide: the client may retry
    return GraphQLError(MASKED_MESSAGE, error.nodes, error.source, error.positions, error.path)


class QuietExecutor(StrawberryGraphQLCoreExecutionContext):
    """Executes without suggestions in the errors about variables ("Did you mean …")."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema as these settings expose it: the same types and fields everywhere (the SDL
    does not depend on settings), with the limits of the settings, and in production no
    introspection and no suggestions: there clients learn the contract from schema.graphql."""
    production: list[Callable[[], SchemaExtension]] = (
        [DisableIntrospection] if settings.production else []
    )
    limits = QueryLimits.of(settings)
    # In production errors suggest nothing ("Cannot query field 'mee' on type 'Query'." and no
    # "Did you mean 'me'?"): suggestions would spell out the schema that production hides.
    validation = DocumentValidation(limits, hide_suggestions=settings.production)
    return DataRightsSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            *production,
            # Front ends send the same few documents again and again: parse and validate each
            # once, the token limit checked while parsing (api/validation.py).
            document_preparation(validation),
            lambda: MaskFaults(
                should_mask_error=lambda error: not is_deliberate(error),
                error_message=MASKED_MESSAGE,
            ),
        ],
        execution_context_class=QuietExecutor if settings.production else None,
    )


# The development schema with the default limits, built without reading the environment: what
# `datarights export-schema` prints and what the contract test compares with schema.graphql.
schema = build_schema(Settings.model_construct())
