from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError
from loyalty.api.member_serializers import MemberCreateSerializer, MemberSerializer
from members import services
from members.api.permissions import IsIntegration, IsMember
from members.models import ApiKey, Member


class MemberCreateView(APIView):
    """Create a member, or return the one that already has this email (API key)."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=MemberCreateSerializer,
        responses={201: MemberSerializer, 200: MemberSerializer},
        tags=["members"],
    )
    def post(self, request: Request) -> Response:
        payload = MemberCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        member, created = services.member_get_or_create(**payload.validated_data)
        return Response(
            MemberSerializer(member).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberDetailView(APIView):
    """One member by public number: any member for an API key, only oneself for a member."""

    permission_classes = [IsIntegration | IsMember]

    @extend_schema(
        responses={200: MemberSerializer, 404: OpenApiResponse(description="member_not_found")},
        tags=["members"],
    )
    def get(self, request: Request, number: str) -> Response:
        member = Member.objects.filter(number=number, is_active=True).first()
        if member is None or (not isinstance(request.auth, ApiKey) and member != request.user):
            raise ApiError(404, "member_not_found", "No member with this number.")
        return Response(MemberSerializer(member).data)


class MeView(APIView):
    """The logged-in member's own record (session)."""

    permission_classes = [IsMember]

    @extend_schema(responses={200: MemberSerializer}, tags=["me"])
    def get(self, request: Request) -> Response:
        member = get_object_or_404(Member, pk=request.user.pk)
        return Response(MemberSerializer(member).data)
