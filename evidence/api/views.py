"""Evidence API (../shared/contracts/api-v1.md). Locked records: no PUT, PATCH or DELETE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.selectors import case_get
from core.uploads import uploaded_path
from evidence import selectors, services
from evidence.models import Evidence


class FingerprintOutput(serializers.Serializer):
    algorithm = serializers.CharField()
    value = serializers.CharField()
    quality = serializers.IntegerField(allow_null=True)
    mirrored = serializers.BooleanField()
    frame_ms = serializers.IntegerField(allow_null=True)


class EvidenceOutput(serializers.Serializer):
    id = serializers.CharField()
    case = serializers.CharField(source="case_id")
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    media_type = serializers.CharField()
    kind = serializers.CharField()
    locked = serializers.BooleanField()
    status = serializers.CharField()
    original_name = serializers.CharField()
    source_url = serializers.CharField()
    captured_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    fingerprints = FingerprintOutput(many=True)


class EvidenceInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    source_url = serializers.URLField(required=False, allow_blank=True, max_length=2000, default="")
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


def _too_large() -> Response:
    return Response(
        {"detail": "The upload is larger than the largest file accepted and was not stored."},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class CaseEvidenceApi(APIView):
    token_scope = {"GET": "evidence:read", "POST": "evidence:write"}

    parser_classes = [MultiPartParser]

    @extend_schema(responses=EvidenceOutput(many=True))
    def get(self, request: Request, pk: str) -> Response:
        case = case_get(user=request.user, pk=pk)
        return Response(EvidenceOutput(selectors.evidence_for_case(case), many=True).data)

    @extend_schema(request=EvidenceInput, responses={201: EvidenceOutput})
    def post(self, request: Request, pk: str) -> Response:
        case = case_get(user=request.user, pk=pk)
        try:
            data = EvidenceInput(data=request.data)
            valid = data.is_valid()
        except Exception:
            if getattr(request._request, "upload_too_large", False):
                return _too_large()
            raise
        if getattr(request._request, "upload_too_large", False):
            return _too_large()
        if not valid:
            raise serializers.ValidationError(data.errors)
        uploaded: Any = data.validated_data["file"]
        path = uploaded_path(uploaded)
        try:
            evidence = services.evidence_add(
                case=case,
                incoming=services.IncomingFile(path=path, name=uploaded.name or "", sha256=getattr(uploaded, "sha256", None)),
                acting_user=request.user,  # type: ignore[arg-type]
                description=data.validated_data["description"],
                source_url=data.validated_data["source_url"],
            )
        finally:
            if not callable(getattr(uploaded, "temporary_file_path", None)):
                Path(path).unlink(missing_ok=True)
        evidence = Evidence.objects.prefetch_related("fingerprints").get(pk=evidence.pk)
        return Response(EvidenceOutput(evidence).data, status=status.HTTP_201_CREATED)


class EvidenceDetailApi(APIView):
    token_scope = {"GET": "evidence:read", "PUT": "evidence:write", "PATCH": "evidence:write", "DELETE": "evidence:write"}

    @extend_schema(responses=EvidenceOutput)
    def get(self, request: Request, pk: str) -> Response:
        evidence = selectors.evidence_get(user=request.user, pk=pk)
        return Response(EvidenceOutput(evidence).data)

    def _locked(self, request: Request, pk: str) -> Response:
        selectors.evidence_get(user=request.user, pk=pk)  # 404 first for what the caller may not see
        return Response(
            {"detail": "Evidence is locked: it can never be changed or deleted."}, status=status.HTTP_405_METHOD_NOT_ALLOWED
        )

    @extend_schema(exclude=True)
    def put(self, request: Request, pk: str) -> Response:
        return self._locked(request, pk)

    @extend_schema(exclude=True)
    def patch(self, request: Request, pk: str) -> Response:
        return self._locked(request, pk)

    @extend_schema(exclude=True)
    def delete(self, request: Request, pk: str) -> Response:
        return self._locked(request, pk)
