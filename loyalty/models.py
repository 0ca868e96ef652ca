"""The loyalty app's models, each defined in its package; Django finds them through this module
(and the migrations name some of them here)."""

from loyalty.earning.models import (  # noqa: F401
    Contribution,
    Event,
    Order,
    Visit,
)
from loyalty.ledger.models import (  # noqa: F401
    Account,
    ExpiryAnnouncement,
    LotAllocation,
    PointEntry,
    PointLot,
)
from loyalty.program.models import (  # noqa: F401
    MONEY_DIGITS,
    MONEY_PLACES,
    Campaign,
    EarningRule,
    MoneyField,
    Program,
    Tier,
    TierQuerySet,
    validate_time_zone,
)
from loyalty.tiers.models import (  # noqa: F401
    TierChange,
    TierFloor,
    TierRun,
    TierRunChunk,
)
