"""Public intake API (../shared/contracts/api-v1.md): no authentication, no cookies, no IPs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import intake


class IntakeInput(serializers.Serializer):
    description = serializers.CharField(max_length=20_000, allow_blank=True, required=False, default="")
    urls = serializers.ListField(child=serializers.CharField(max_length=2000), max_length=200, required=False, default=list)
    contact = serializers.DictField(required=False, allow_null=True, default=None)
    consent = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict)
    language = serializers.CharField(max_length=10, required=False, default="ko")
    is_minor = serializers.BooleanField(required=False, allow_null=True, default=None)
    is_spreading = serializers.BooleanField(required=False, default=False)
    threatened = serializers.BooleanField(required=False, default=False)
    reporter_role = serializers.ChoiceField(choices=["victim", "helper"], required=False, default="victim")
    fingerprints = serializers.ListField(child=serializers.DictField(), max_length=100, required=False, default=list)


class ReceiptInput(serializers.Serializer):
    receipt = serializers.CharField(max_length=100)


class PublicApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    partner_allowed = True  # not a partner endpoint, but open to anyone: no role gate applies

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response


class IntakeApi(PublicApi):
    @extend_schema(request=IntakeInput, responses={201: ReceiptInput})
    def post(self, request: Request) -> Response:
        data = IntakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        _report, receipt = intake.intake_submit(
            intake.IntakeInput(
                description=v["description"], urls=tuple(v["urls"]), contact=v["contact"], consent=v["consent"],
                language=v["language"], is_minor=v["is_minor"], reporter_role=v["reporter_role"], fingerprints=tuple(v["fingerprints"]),
                is_spreading=v["is_spreading"], threatened=v["threatened"],
            )
        )  # fmt: skip
        return Response({"receipt": receipt}, status=status.HTTP_201_CREATED)


class IntakeStatusApi(PublicApi):
    @extend_schema(request=ReceiptInput, responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = ReceiptInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not intake.guess_allowed():
            return Response({"detail": "Too many checks right now; try again in a minute."}, status=429)
        report = intake.intake_find(data.validated_data["receipt"])
        if report is None:
            tombstone = intake.intake_find_deleted(data.validated_data["receipt"])
            if tombstone is not None:
                return Response({"status": "deleted", "deleted_on": tombstone.deleted_on.isoformat(), "reason": tombstone.reason})
            return Response({"detail": "No report matches that receipt."}, status=status.HTTP_404_NOT_FOUND)
        return Response(intake.intake_progress(report))
