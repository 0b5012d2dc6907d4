"""Public intake API (../shared/contracts/api-v1.md): no authentication, no cookies, no IPs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import intake, pow, selectors
from cases.models import Category, IntakeReport
from core import audit
from core.errors import Conflict


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
    centre = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True, default="")
    urgent = serializers.BooleanField(required=False, default=False)


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
        if (busy := pow.api_gate(request.headers)) is not None:
            return Response(busy, status=429)
        data = IntakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        _report, receipt = intake.intake_submit(
            intake.IntakeInput(
                description=v["description"], urls=tuple(v["urls"]), contact=v["contact"], consent=v["consent"],
                language=v["language"], is_minor=v["is_minor"], reporter_role=v["reporter_role"], fingerprints=tuple(v["fingerprints"]),
                is_spreading=v["is_spreading"], threatened=v["threatened"], centre=v["centre"] or "", urgent=v["urgent"],
            )
        )  # fmt: skip
        return Response({"receipt": receipt}, status=status.HTTP_201_CREATED)


_NO_REPORT = {"detail": "No report matches that receipt."}


class IntakeStatusApi(PublicApi):
    @extend_schema(request=ReceiptInput, responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = ReceiptInput(data=request.data)
        data.is_valid(raise_exception=True)
        if (busy := pow.api_gate(request.headers)) is not None:
            return Response(busy, status=429)
        if not intake.guess_allowed():
            return Response({"detail": "Too many checks right now; try again in a minute."}, status=429)
        report = intake.intake_find(data.validated_data["receipt"])
        if report is None:
            tombstone = intake.intake_find_deleted(data.validated_data["receipt"])
            if tombstone is not None:
                return Response({"status": "deleted", "deleted_on": tombstone.deleted_on.isoformat(), "reason": tombstone.reason})
            return Response(_NO_REPORT, status=status.HTTP_404_NOT_FOUND)
        return Response(intake.intake_progress(report))


class ReporterMessageInput(ReceiptInput):
    text = serializers.CharField(max_length=5000, allow_blank=True)


class MessageOutput(serializers.Serializer):
    at = serializers.CharField(
        help_text="The start of the day in the centre's time zone (ISO 8601): no time of day is kept for a reporter's actions."
    )
    author = serializers.ChoiceField(choices=["reporter", "staff"])
    text = serializers.CharField()


class IntakeStatusMessageApi(PublicApi):
    """A message from the reporter. A wrong receipt answers exactly as the status call does."""

    @extend_schema(request=ReporterMessageInput, responses={201: MessageOutput, 404: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = ReporterMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        if (busy := pow.api_gate(request.headers)) is not None:
            return Response(busy, status=429)
        if not intake.guess_allowed():
            return Response({"detail": "Too many checks right now; try again in a minute."}, status=429)
        report = intake.intake_find(data.validated_data["receipt"])
        if report is None:
            return Response(_NO_REPORT, status=status.HTTP_404_NOT_FOUND)
        message = intake.intake_reply(report=report, text=data.validated_data["text"])
        return Response(selectors.message_row(message), status=201)


# Staff: reports routed to the caller's centre (or the triage centre's unrouted ones) -------------


class ReportOutput(serializers.Serializer):
    id = serializers.CharField()
    centre = serializers.CharField(source="centre.code", allow_null=True, default=None)
    status = serializers.CharField()
    received_on = serializers.DateField()
    urgent = serializers.BooleanField()
    is_minor = serializers.BooleanField(allow_null=True)
    is_spreading = serializers.BooleanField()
    threatened = serializers.BooleanField()
    language = serializers.CharField()
    case = serializers.CharField(source="case_id", allow_null=True)
    description = serializers.CharField()
    urls = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField()

    def get_urls(self, report: IntakeReport) -> list[str]:
        return [u.url for u in report.urls.all()]

    def get_messages(self, report: IntakeReport) -> list[dict[str, str]]:
        return selectors.reporter_thread(report)


class ReportListOutput(ReportOutput):
    messages = None  # type: ignore[assignment]
    unread = serializers.IntegerField()


class StaffTextInput(serializers.Serializer):
    text = serializers.CharField(max_length=5000, allow_blank=True)


class OpenCaseInput(serializers.Serializer):
    pseudonym = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=Category.choices, required=False, default=Category.OTHER)


class RouteInput(serializers.Serializer):
    centre = serializers.CharField(max_length=32)


def _report(request: Request, pk: str) -> IntakeReport:
    return selectors.intake_report_get(user=request.user, pk=pk)


REPORTS_PAGE_DEFAULT = 100
REPORTS_PAGE_MAX = 500


class ReportsPageInput(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    limit = serializers.IntegerField(required=False, min_value=1, default=REPORTS_PAGE_DEFAULT)

    def validate_limit(self, value: int) -> int:
        # Above the maximum is not an error: the caller gets the largest page and a next link.
        return min(value, REPORTS_PAGE_MAX)


class IntakeReportsApi(APIView):
    """Newest first; only caseworkers and supervisors see any (others get an empty list).

    The answer stays the contract's plain JSON list; paging travels beside it: ?limit= (default
    100, at most 500) and ?before=<id> (the reports older than that one), with a
    `Link: <...>; rel="next"` header while more remain (docs/intake.md, "API").
    """

    token_scope = "intake:read"

    pagination_class = None  # the list is paged by the cursor below, never wrapped in an object

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "before", int, description="Cursor: only reports older than the report with this id (the last id of the "
                "previous page). Absent: start with the newest.",
            ),
            OpenApiParameter("limit", int, description=f"Reports per page (default {REPORTS_PAGE_DEFAULT}, at most "
                             f"{REPORTS_PAGE_MAX}; more is answered with {REPORTS_PAGE_MAX})."),
            OpenApiParameter(
                "Link", str, location=OpenApiParameter.HEADER, response=[200],
                description='`<URL of the next page>; rel="next"` while more reports remain; absent on the last page.',
            ),
        ],
        responses=ReportListOutput(many=True),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        query = ReportsPageInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        reports, more = selectors.intake_reports_page(user=request.user, before=query.validated_data.get("before"), limit=limit)
        unread = selectors.unread_counts_by_report(request.user, [r.pk for r in reports])
        for report in reports:
            report.unread = unread.get(report.pk, 0)
        response = Response(ReportListOutput(reports, many=True).data)
        if more and reports:
            params = request.query_params.copy()
            params["before"] = str(reports[-1].pk)
            params["limit"] = str(limit)
            response["Link"] = f'<{request.build_absolute_uri(request.path)}?{params.urlencode()}>; rel="next"'
        return response


class IntakeReportDetailApi(APIView):
    token_scope = "intake:read"

    @extend_schema(responses=ReportOutput)
    def get(self, request: Request, pk: str) -> Response:
        report = _report(request, pk)
        audit.record_now("intake.view", actor=request.user, obj=report)
        intake.intake_mark_read(report=report, user=request.user)
        return Response(ReportOutput(report).data)


class IntakeReportMessageApi(APIView):
    token_scope = "intake:write"

    @extend_schema(request=StaffTextInput, responses={201: MessageOutput})
    def post(self, request: Request, pk: str) -> Response:
        report = _report(request, pk)
        data = StaffTextInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = intake.intake_staff_message(report=report, text=data.validated_data["text"], acting_user=request.user)
        return Response(selectors.message_row(message), status=201)


class IntakeReportCaseApi(APIView):
    token_scope = "intake:write"

    @extend_schema(request=OpenCaseInput, responses={201: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: str) -> Response:
        report = _report(request, pk)
        data = OpenCaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        if report.case_id:
            raise Conflict("A case was already opened for this report.")
        case = intake.intake_open_case(
            report=report, acting_user=request.user, category=data.validated_data["category"],
            pseudonym=data.validated_data["pseudonym"].strip() or f"Reporter {report.pk}",
        )  # fmt: skip
        return Response({"id": str(case.pk), "reference": case.reference}, status=201)


class IntakeReportRouteApi(APIView):
    token_scope = "intake:write"

    @extend_schema(request=RouteInput, responses=ReportOutput)
    def post(self, request: Request, pk: str) -> Response:
        report = _report(request, pk)
        data = RouteInput(data=request.data)
        data.is_valid(raise_exception=True)
        centre = intake.centre_for_code(data.validated_data["centre"])
        intake.intake_route(report=report, centre=centre, acting_user=request.user)
        report.refresh_from_db()
        return Response(ReportOutput(report).data)
