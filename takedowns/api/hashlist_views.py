"""Partner hash-sharing API (docs/matching.md, "Partner hash sharing").

The only endpoints a partner platform's token opens (core.api.permissions.PartnerScope). They
say nothing about cases or victims: a stable id per fingerprint, the algorithm, the value and
the case's category.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import PartnerScope, TokenScope
from core.roles import Role
from takedowns import hashlist
from takedowns.models import FeedbackVerdict

_HEX = re.compile(r"[0-9a-f]+")


class HashListAccess(BasePermission):
    """Partners, and administrators checking the integration. Caseworkers have no business here."""

    message = "Only partner platforms and administrators use the hash list."

    def has_permission(self, request: Request, view: Any) -> bool:
        return getattr(request.user, "role", None) in (Role.PARTNER, Role.ADMIN)


class HashListView(APIView):
    token_scope = "hashlist"

    partner_allowed = True
    permission_classes = [IsAuthenticated, PartnerScope, TokenScope, HashListAccess]


class PageInput(serializers.Serializer):
    since = serializers.CharField(required=False, default="0", allow_blank=True, max_length=20)
    limit = serializers.CharField(required=False, default="", allow_blank=True, max_length=20)

    def validate_since(self, value: str) -> int:
        value = value.strip() or "0"
        if not (value.isascii() and value.isdigit()) or int(value) > 2**63 - 1:
            raise serializers.ValidationError("Give the cursor from a previous answer (a whole number), or 0 to start.")
        return int(value)

    def validate_limit(self, value: str) -> int:
        top = int(settings.HASHLIST_PAGE_MAX)
        value = value.strip()
        if not value:
            return min(int(settings.HASHLIST_PAGE_DEFAULT), top)
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= top:
            raise serializers.ValidationError(f"The limit is a whole number from 1 to {top}.")
        return int(value)


class EntryOutput(serializers.Serializer):
    id = serializers.CharField(help_text="Stable id of the fingerprint; deletions and feedback use it.")
    action = serializers.ChoiceField(choices=["add", "delete"])
    algorithm = serializers.ChoiceField(
        choices=list(hashlist.ALGORITHMS), allow_null=True, help_text="Null in a deletion of material the centre has purged."
    )
    value = serializers.CharField(allow_null=True, help_text="Lowercase hex; null for deletions.")
    category = serializers.CharField(allow_null=True, help_text="Null in a deletion of material the centre has purged.")
    frame_ms = serializers.IntegerField(required=False, help_text="Position in a video; only for video frames.")


class PageOutput(serializers.Serializer):
    entries = EntryOutput(many=True)
    cursor = serializers.CharField(help_text="Pass as ?since= to get what came after this page.")
    has_more = serializers.BooleanField()


class HashListApi(HashListView):
    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="Cursor from the previous answer; 0 or absent to start."),
            OpenApiParameter("limit", int, description="Entries per page (default 1000, at most 10000)."),
        ],
        responses=PageOutput,
    )
    def get(self, request: Request) -> Response:
        query = PageInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = hashlist.hashlist_page(since=query.validated_data["since"], limit=query.validated_data["limit"])
        return Response({"entries": page.entries, "cursor": str(page.cursor), "has_more": page.has_more})


class FeedbackInput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=FeedbackVerdict.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["verdict"] == FeedbackVerdict.NOT_BLOCKED and not attrs["reason"].strip():
            raise serializers.ValidationError({"reason": ["Say why the matching upload was not blocked."]})
        return attrs


class FeedbackOutput(serializers.Serializer):
    id = serializers.CharField()
    fingerprint = serializers.CharField(source="fingerprint_id")
    verdict = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class HashListFeedbackApi(HashListView):
    @extend_schema(request=FeedbackInput, responses={201: FeedbackOutput})
    def post(self, request: Request, pk: str) -> Response:
        fingerprint = hashlist.listed_fingerprint_get(pk)
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = hashlist.hashlist_feedback_record(
            fingerprint=fingerprint,
            verdict=data.validated_data["verdict"],
            reason=data.validated_data["reason"],
            acting_user=request.user,  # type: ignore[arg-type]
        )
        return Response(FeedbackOutput(feedback).data, status=status.HTTP_201_CREATED)


class LookupInput(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=list(hashlist.ALGORITHMS))
    value = serializers.CharField(max_length=200, trim_whitespace=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        value = attrs["value"].lower()
        length = hashlist.HEX_LENGTHS[attrs["algorithm"]]
        if len(value) != length or not _HEX.fullmatch(value):
            raise serializers.ValidationError(
                {"value": [f"A {attrs['algorithm']} value is {length} hexadecimal digits (0-9, a-f); got {len(value)}."]}
            )
        attrs["value"] = value
        return attrs


class LookupOutput(serializers.Serializer):
    match = serializers.BooleanField()
    distance = serializers.IntegerField(allow_null=True)


class HashListLookupApi(HashListView):
    @extend_schema(request=LookupInput, responses=LookupOutput)
    def post(self, request: Request) -> Response:
        data = LookupInput(data=request.data)
        data.is_valid(raise_exception=True)
        distance = hashlist.hashlist_lookup(algorithm=data.validated_data["algorithm"], value=data.validated_data["value"])
        return Response({"match": distance is not None, "distance": distance})
