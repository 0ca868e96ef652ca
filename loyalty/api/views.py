from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.serializers import TierSerializer
from loyalty.selectors import tier_ladder
from members.api.permissions import IsIntegration, IsMember


class TierListView(APIView):
    """The tier ladder, lowest first (API key or member session)."""

    permission_classes = [IsIntegration | IsMember]

    @extend_schema(responses={200: TierSerializer(many=True)}, tags=["tiers"])
    def get(self, request: Request) -> Response:
        return Response(TierSerializer(tier_ladder(), many=True).data)
