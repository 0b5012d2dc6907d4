"""Platforms and takedowns API (../shared/contracts/api-v1.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.selectors import case_get
from core import twofactor
from core.errors import NotFound, PermissionDenied
from core.roles import Role
from takedowns import selectors, services
from takedowns.models import Channel, Platform, TakedownRequest


class PlatformInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    domains = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices)
    endpoint = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    secret = serializers.CharField(required=False, allow_blank=True, default="", max_length=500, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    web_form_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    instructions = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    jurisdiction = serializers.CharField(max_length=8, default="KR")
    notice_language = serializers.CharField(max_length=10, default="en")
    sla_hours = serializers.IntegerField(min_value=1, max_value=24 * 30, required=False)
    escalation_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    escalation_email = serializers.EmailField(required=False, allow_blank=True, default="")
    rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=100_000, default=600)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs["channel"]
        if channel == Channel.API and not (attrs.get("endpoint") and attrs.get("secret")):
            raise serializers.ValidationError({"endpoint": ["An api platform needs an endpoint and a shared secret."]})
        if channel == Channel.EMAIL and not attrs.get("email"):
            raise serializers.ValidationError({"email": ["An email platform needs an abuse address."]})
        if channel == Channel.MANUAL and not attrs.get("web_form_url"):
            raise serializers.ValidationError({"web_form_url": ["A manual platform needs its web form's address."]})
        return attrs


class PlatformOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    domains = serializers.ListField(child=serializers.CharField())
    channel = serializers.CharField()
    endpoint = serializers.CharField()
    email = serializers.CharField()
    web_form_url = serializers.CharField()
    jurisdiction = serializers.CharField()
    notice_language = serializers.CharField()
    sla_hours = serializers.IntegerField()
    escalation_name = serializers.CharField()
    rate_limit_per_minute = serializers.IntegerField()


class PlatformsApi(APIView):
    token_scope = {"GET": "platforms:read", "POST": "platforms:write"}

    @extend_schema(responses=PlatformOutput(many=True))
    def get(self, request: Request) -> Response:
        if getattr(request.user, "role", None) == Role.PARTNER:
            raise PermissionDenied("Partners cannot list platforms.")
        return Response(PlatformOutput(Platform.objects.all(), many=True).data)

    @extend_schema(request=PlatformInput, responses={201: PlatformOutput})
    def post(self, request: Request) -> Response:
        if getattr(request.user, "role", None) != Role.ADMIN:
            raise PermissionDenied("Only administrators manage platforms.")
        data = PlatformInput(data=request.data)
        data.is_valid(raise_exception=True)
        platform = services.platform_create(acting_user=request.user, **data.validated_data)
        return Response(PlatformOutput(platform).data, status=status.HTTP_201_CREATED)


class AttemptOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    outcome = serializers.CharField()
    http_status = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()


class CheckOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    outcome = serializers.CharField()
    http_status = serializers.IntegerField(allow_null=True)
    distance = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()
    # True for the second look of a removal confirmation (a new connection, another browser).
    second_look = serializers.BooleanField()


class TakedownOutput(serializers.Serializer):
    id = serializers.CharField()
    case = serializers.CharField(source="case_id")
    url = serializers.CharField()
    platform = serializers.CharField(source="platform_id", allow_null=True)
    platform_name = serializers.CharField(source="platform.name", allow_null=True, default=None)
    status = serializers.CharField()
    urgent = serializers.BooleanField()
    deadline = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    removed_at = serializers.DateTimeField(allow_null=True)
    reappeared_at = serializers.DateTimeField(allow_null=True)
    ticket = serializers.SerializerMethodField()
    platform_message = serializers.CharField()
    duplicate_of = serializers.CharField(source="duplicate_of_id", allow_null=True)
    unavailable_at = serializers.DateTimeField(allow_null=True)
    # Removal confirmation (docs/takedowns.md): when a look found the page gone and a second look is
    # awaited (null otherwise; the status keeps its meaning meanwhile), and the last time a page said
    # "gone" to one look and showed the material to the next (suspected cloaking), with their count.
    removal_seen_at = serializers.DateTimeField(allow_null=True)
    cloak_suspected_at = serializers.DateTimeField(allow_null=True)
    cloak_suspicions = serializers.IntegerField()
    escalated = serializers.SerializerMethodField()
    escalation_level = serializers.IntegerField()
    overdue = serializers.BooleanField()
    evidence = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField()

    def get_ticket(self, obj: TakedownRequest) -> str | None:
        return obj.ticket or None

    def get_escalated(self, obj: TakedownRequest) -> bool:
        return obj.escalation_level > 0

    def get_evidence(self, obj: TakedownRequest) -> list[str]:
        return [str(pk) for pk in obj.evidence.values_list("pk", flat=True)]

    def get_attempts(self, obj: TakedownRequest) -> list[dict[str, Any]]:
        from takedowns.models import DeliveryAttempt

        rows = DeliveryAttempt.objects.filter(notice__request=obj).order_by("at", "id")
        return AttemptOutput(rows, many=True).data  # type: ignore[return-value]

    def get_checks(self, obj: TakedownRequest) -> list[dict[str, Any]]:
        return CheckOutput(obj.checks.order_by("at", "id"), many=True).data  # type: ignore[return-value]


class TakedownInput(serializers.Serializer):
    case = serializers.CharField()
    url = serializers.CharField(max_length=2000)
    evidence = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=500)


class TakedownsApi(APIView):
    token_scope = {"GET": "takedowns:read", "POST": "takedowns:write"}

    @extend_schema(request=TakedownInput, responses={201: TakedownOutput})
    def post(self, request: Request) -> Response:
        data = TakedownInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_get(user=request.user, pk=data.validated_data["case"])
        created = services.takedown_create(
            case=case,
            url=data.validated_data["url"],
            acting_user=request.user,  # type: ignore[arg-type]
            evidence_ids=data.validated_data["evidence"],
        )
        return Response(TakedownOutput(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=TakedownOutput(many=True))
    def get(self, request: Request) -> Response:
        qs = selectors.requests_visible_to(request.user).order_by("-created_at", "-id")
        if request.query_params.get("case"):
            qs = qs.filter(case_id=request.query_params["case"]) if request.query_params["case"].isdigit() else qs.none()
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        return Response(TakedownOutput(qs[:500], many=True).data)


def _get(request: Request, pk: str) -> TakedownRequest:
    return selectors.request_get(user=request.user, pk=pk)


class TakedownDetailApi(APIView):
    token_scope = "takedowns:read"

    @extend_schema(responses=TakedownOutput)
    def get(self, request: Request, pk: str) -> Response:
        return Response(TakedownOutput(_get(request, pk)).data)


def _stepped_up(request: Request, data: dict[str, Any]) -> bool:
    """A consent override needs a fresh authenticator code (core.twofactor.step_up). Only a
    person in a verified browser session has one; an API token (a machine) never overrides."""
    if request.auth is not None or not data.get("override_reason", "").strip():
        return False
    return twofactor.step_up(request._request, request.user, data.get("code") or "")  # type: ignore[arg-type]


class SendInput(serializers.Serializer):
    override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    code = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=12,
        help_text="With override_reason: a fresh code from the supervisor's authenticator (browser sessions only; "
        "a token never overrides consent).",
    )  # fmt: skip


class TakedownSendApi(APIView):
    token_scope = "takedowns:write"

    @extend_schema(request=SendInput, responses={202: TakedownOutput})
    def post(self, request: Request, pk: str) -> Response:
        takedown = _get(request, pk)
        data = SendInput(data=request.data)
        data.is_valid(raise_exception=True)
        if takedown.status != "draft":
            return Response(
                {"detail": f"The request is already {takedown.status}; only drafts are sent."}, status=status.HTTP_409_CONFLICT
            )
        services.takedown_approve(
            requests=[takedown],
            acting_user=request.user,  # type: ignore[arg-type]
            override_reason=data.validated_data["override_reason"],
            stepped_up=_stepped_up(request, data.validated_data),
        )
        takedown.refresh_from_db()
        return Response(TakedownOutput(takedown).data, status=status.HTTP_202_ACCEPTED)


class CaseSendInput(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=5000)
    all = serializers.BooleanField(required=False, default=False)
    override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    code = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=12,
        help_text="With override_reason: a fresh code from the supervisor's authenticator (browser sessions only; "
        "a token never overrides consent).",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and not attrs.get("ids"):
            raise serializers.ValidationError(
                {"ids": ['Nothing was selected: give the ids of the drafts to send, or "all": true.']}
            )
        return attrs


class CaseSendOutput(serializers.Serializer):
    queued = serializers.IntegerField()
    following = serializers.IntegerField(help_text="Of those, drafts whose page another request already works on.")


class CaseTakedownsSendApi(APIView):
    """`POST /api/v1/cases/{id}/takedowns/send/` (contract v1.1): approve and queue exactly the chosen drafts."""

    token_scope = "takedowns:write"

    @extend_schema(request=CaseSendInput, responses={202: CaseSendOutput})
    def post(self, request: Request, pk: str) -> Response:
        case = case_get(user=request.user, pk=pk)
        data = CaseSendInput(data=request.data)
        data.is_valid(raise_exception=True)
        approved = services.takedown_send_selected(
            case=case,
            ids=data.validated_data.get("ids") or (),
            all_drafts=data.validated_data["all"],
            acting_user=request.user,  # type: ignore[arg-type]
            override_reason=data.validated_data["override_reason"],
            stepped_up=_stepped_up(request, data.validated_data),
        )
        following = sum(1 for r in approved if r.duplicate_of_id)
        return Response({"queued": len(approved), "following": following}, status=status.HTTP_202_ACCEPTED)


class TakedownRecheckApi(APIView):
    token_scope = "takedowns:write"

    @extend_schema(request=None, responses={202: TakedownOutput})
    def post(self, request: Request, pk: str) -> Response:
        takedown = _get(request, pk)
        if takedown.sent_at is None:
            return Response({"detail": "Only a sent request can be re-checked."}, status=status.HTTP_409_CONFLICT)
        services.recheck_now(request=takedown, acting_user=request.user)  # type: ignore[arg-type]
        return Response(TakedownOutput(takedown).data, status=status.HTTP_202_ACCEPTED)


__all__ = ["NotFound"]


class MatchOutput(serializers.Serializer):
    evidence = serializers.CharField()
    case = serializers.CharField()
    algorithm = serializers.CharField()
    distance = serializers.IntegerField()


class MatchInput(serializers.Serializer):
    file = serializers.FileField()


class MatchApi(APIView):
    """POST a file; answers the evidence it matches, nearest first, only what the caller may see."""

    token_scope = "match"

    @extend_schema(request=MatchInput, responses={200: MatchOutput(many=True)})
    def post(self, request: Request) -> Response:
        from pathlib import Path

        from core.uploads import uploaded_path
        from evidence.validation import Refused
        from takedowns.matching import match_file

        if getattr(request.user, "role", None) not in ("caseworker", "supervisor"):
            raise PermissionDenied("Only caseworkers and supervisors search for matches.")
        if getattr(request._request, "upload_too_large", False):
            return Response({"detail": "The upload is larger than the largest file accepted."}, status=413)
        data = MatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        uploaded: Any = data.validated_data["file"]
        path = uploaded_path(uploaded)
        try:
            matches = match_file(Path(path), user=request.user)
        except Refused as exc:
            return Response({"detail": exc.message}, status=exc.status)
        finally:
            if not callable(getattr(uploaded, "temporary_file_path", None)):
                Path(path).unlink(missing_ok=True)
        body = [
            {"evidence": str(m.evidence), "case": str(m.case), "algorithm": m.algorithm, "distance": m.distance} for m in matches
        ]
        return Response({"matches": body})


class ComplianceQuery(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    jurisdiction = serializers.CharField(required=False, max_length=8)
    category = serializers.CharField(required=False, max_length=20)


class CompliancePlatformsApi(APIView):
    """Per-platform compliance figures (analysts, supervisors, admins). No victim data in them."""

    token_scope = "compliance:read"

    @extend_schema(parameters=[ComplianceQuery], responses={200: dict})
    def get(self, request: Request) -> Response:
        from takedowns import rollup
        from takedowns.compliance import Filters, as_api, platform_figures

        if getattr(request.user, "role", None) not in ("analyst", "supervisor", "admin"):
            raise PermissionDenied("Compliance figures are for analysts, supervisors and admins.")
        query = ComplianceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        if v.get("since") and v.get("until") and v["since"] >= v["until"]:
            return Response({"detail": "since must be before until."}, status=status.HTTP_400_BAD_REQUEST)
        rollup.refresh_if_dirty()
        rows = platform_figures(
            Filters(since=v.get("since"), until=v.get("until"), jurisdiction=v.get("jurisdiction"), category=v.get("category"))
        )
        return Response([as_api(r) for r in rows])


class CaseTakedownsApi(APIView):
    """GET /api/v1/cases/{id}/takedowns/: the case's takedown requests, oldest first (contract
    v1.1). Registered from this side because cases may not import takedowns."""

    token_scope = "takedowns:read"

    @extend_schema(responses=TakedownOutput(many=True))
    def get(self, request: Request, pk: str) -> Response:
        case = case_get(user=request.user, pk=pk)
        qs = selectors.requests_visible_to(request.user).filter(case=case).order_by("created_at", "id")
        return Response(TakedownOutput(qs, many=True).data)
