"""Cases API (../shared/contracts/api-v1.md). Thin: validate, call a service, serialise."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import selectors, services
from cases.models import Case, CaseStatus, Category, ConsentKind, ConsentMethod, ContactChannel, Priority
from core.roles import CASE_ROLES


class VictimInput(serializers.Serializer):
    pseudonym = serializers.CharField(max_length=100)
    # null: not known (or the victim preferred not to say), kept as such.
    is_minor = serializers.BooleanField(default=False, allow_null=True)
    language = serializers.CharField(max_length=10, default="ko")
    legal_name = serializers.CharField(max_length=300, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    safe_contact_channel = serializers.ChoiceField(choices=ContactChannel.choices, required=False)
    safe_contact_times = serializers.CharField(max_length=200, required=False, allow_blank=True)
    may_leave_messages = serializers.BooleanField(required=False)


class ConsentInput(serializers.Serializer):
    takedown = serializers.BooleanField(required=False)
    hash_sharing = serializers.BooleanField(required=False)
    police_referral = serializers.BooleanField(required=False)
    legal_support = serializers.BooleanField(required=False)


class CaseInput(serializers.Serializer):
    summary = serializers.CharField(max_length=20000, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=Category.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    is_spreading = serializers.BooleanField(default=False)
    victim = VictimInput()
    consent = ConsentInput(required=False)
    consent_method = serializers.ChoiceField(choices=ConsentMethod.choices, default=ConsentMethod.API)


class CaseOutput(serializers.Serializer):
    id = serializers.CharField()
    reference = serializers.CharField()
    status = serializers.CharField()
    category = serializers.CharField()
    priority = serializers.CharField()
    urgent = serializers.SerializerMethodField()
    is_spreading = serializers.BooleanField()
    threatened = serializers.BooleanField()
    summary = serializers.CharField()
    centre = serializers.CharField(source="centre.code")
    assigned_to = serializers.CharField(source="assigned_to.username", allow_null=True, default=None)
    victim = serializers.SerializerMethodField()
    contact = serializers.SerializerMethodField()
    consent = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_urgent(self, case: Case) -> bool:
        return case.priority == Priority.URGENT

    def get_victim(self, case: Case) -> dict[str, Any]:
        # Identity and contact are never in the API; the case page reveals them with an audit entry.
        v = case.victim
        return {"pseudonym": v.pseudonym, "is_minor": v.minor, "language": v.language}

    def get_contact(self, case: Case) -> dict[str, Any]:
        """The victim's contact wishes: how and when it is safe to reach them, and whether an
        address or number is on file. The address and number themselves stay behind the audited
        reveal on the case page (only the case's caseworker and supervisors see this at all)."""
        v = case.victim
        return {
            "channel": v.safe_contact_channel, "safe_times": v.safe_contact_times,
            "may_leave_messages": v.may_leave_messages, "has_email": bool(v.contact_email), "has_phone": bool(v.contact_phone),
        }  # fmt: skip

    def get_consent(self, case: Case) -> dict[str, bool | None]:
        state = selectors.consent_state(case)
        return {kind: (record.granted if record else None) for kind, record in state.items()}


class CaseListOutput(CaseOutput):
    consent = None  # type: ignore[assignment]
    summary = None  # type: ignore[assignment]
    contact = None  # type: ignore[assignment]


class CaseUpdateInput(serializers.Serializer):
    summary = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    is_spreading = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(choices=CaseStatus.choices, required=False)


class ConsentRecordInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    granted = serializers.BooleanField()
    method = serializers.ChoiceField(choices=ConsentMethod.choices, default=ConsentMethod.API)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CaseListCreateApi(ListAPIView):
    token_scope = {"GET": "cases:read", "POST": "cases:write"}

    serializer_class = CaseListOutput

    def get_queryset(self) -> Any:
        return selectors.cases_visible_to(self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=CaseInput, responses={201: CaseOutput})
    def post(self, request: Request) -> Response:
        if getattr(request.user, "role", None) not in CASE_ROLES:
            return Response({"detail": "Only caseworkers and supervisors open cases."}, status=status.HTTP_403_FORBIDDEN)
        data = CaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        case = services.case_create(
            acting_user=request.user,  # type: ignore[arg-type]
            category=v["category"],
            summary=v["summary"],
            victim=dict(v["victim"]),
            consent=dict(v.get("consent") or {}),
            consent_method=v["consent_method"],
            is_spreading=v["is_spreading"],
            priority=v["priority"],
        )
        return Response(CaseOutput(case).data, status=status.HTTP_201_CREATED)


class CaseDetailApi(APIView):
    token_scope = {"GET": "cases:read", "PATCH": "cases:write"}

    @extend_schema(responses=CaseOutput)
    def get(self, request: Request, pk: str) -> Response:
        case = selectors.case_get(user=request.user, pk=pk)
        services.case_record_view(case=case, acting_user=request.user)  # type: ignore[arg-type]
        return Response(CaseOutput(case).data)

    @extend_schema(request=CaseUpdateInput, responses=CaseOutput)
    def patch(self, request: Request, pk: str) -> Response:
        case = selectors.case_get(user=request.user, pk=pk)
        data = CaseUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        new_status = v.pop("status", None)
        from django.db import transaction

        with transaction.atomic():
            services.case_update(case=case, acting_user=request.user, **v)  # type: ignore[arg-type]
            if new_status:
                services.case_set_status(case=case, status=new_status, acting_user=request.user)  # type: ignore[arg-type]
        return Response(CaseOutput(case).data)


class CaseConsentApi(APIView):
    token_scope = "cases:write"

    @extend_schema(request=ConsentRecordInput, responses=CaseOutput)
    def post(self, request: Request, pk: str) -> Response:
        case = selectors.case_get(user=request.user, pk=pk)
        data = ConsentRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.consent_record(case=case, acting_user=request.user, **data.validated_data)  # type: ignore[arg-type]
        return Response(CaseOutput(case).data, status=status.HTTP_201_CREATED)
