"""The cost model on hand-computed cases: every expected number is worked out in the comments beside it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.cost_model import (
    CONNECT,
    DISCONNECT,
    TARGET_RATIO,
    Breakdown,
    Invocation,
    Operations,
    Prices,
    Profile,
    apigw_message_units,
    dynamodb_read_units,
    dynamodb_write_units,
    fixed_usd_per_month,
    floor_usd_per_connector_month,
    meter_values_paths,
    ratio,
    samples_per_connector_month,
    spread,
    stream_batch_records,
    usd_per_connector_month,
)

D = Decimal
NOTHING = Operations(inbound_bytes=(), outbound_bytes=())
KB = 1024
MIB = 2**20


def test_documented_profile_sends_560_calls_a_day_and_stays_connected():
    profile = Profile()
    # Per day: 86,400 / 300 = 288 heartbeats, 24 / 2 = 12 boots, 4 sessions of 2 statuses, 1 Authorize,
    # 1 Start, 3,600 / 60 = 60 meter values and 1 Stop: 288 + 12 + 8 + 4 + 4 + 240 + 4 = 560; times 30.44 days.
    assert profile.messages_per_month() == {
        "Heartbeat": D("8766.72"), "BootNotification": D("365.28"), "StatusNotification": D("243.52"),
        "Authorize": D("121.76"), "StartTransaction": D("121.76"), "MeterValues": D("7305.6"),
        "StopTransaction": D("121.76"),
    }
    assert sum(profile.messages_per_month().values()) == 560 * D("30.44") == D("17046.4")
    assert profile.connections_per_month() == D("365.28")
    assert profile.connection_minutes_per_month() == D("30.44") * 1440 == D("43833.6")
    assert profile.occurrences_per_month()[CONNECT] == profile.occurrences_per_month()[DISCONNECT] == D("365.28")


def test_a_201_charger_sends_as_many_messages_its_session_as_transaction_events():
    found = Profile(protocol="ocpp2.0.1").messages_per_month()
    assert found == {
        "Heartbeat": D("8766.72"), "BootNotification": D("365.28"), "StatusNotification": D("243.52"),
        "Authorize": D("121.76"), "TransactionEvent Started": D("121.76"), "TransactionEvent Updated": D("7305.6"),
        "TransactionEvent Ended": D("121.76"),
    }
    assert floor_usd_per_connector_month(Profile(protocol="ocpp2.0.1")) == floor_usd_per_connector_month(Profile())


def test_floor_of_the_documented_profile():
    # 17,046.4 CALLs and as many replies at 1 USD per million, 43,833.6 connection minutes at 0.25 per million:
    # (34,092.8 + 10,958.4) / 1,000,000 = 0.0450512 USD per connector-month.
    assert floor_usd_per_connector_month(Profile()) == D("0.0450512")


def test_floor_with_zero_sessions_is_heartbeats_boots_and_minutes():
    # (2 * (8,766.72 + 365.28) + 43,833.6 * 0.25) / 1,000,000 = (18,264 + 10,958.4) / 1,000,000.
    assert floor_usd_per_connector_month(Profile(sessions_per_day=0)) == D("0.0292224")


def test_floor_of_a_two_connector_charger_is_per_connector():
    # Sessions are per connector: 4 * 2 * 30.44 = 243.52 a month. CALLs per charger: 8,766.72 + 365.28
    # + 487.04 + 3 * 243.52 + 14,611.2 = 24,960.8; messages 49,921.6 USD-millionths, minutes 10,958.4:
    # 60,880 / 1,000,000 = 0.06088 per charger, 0.03044 per connector.
    assert floor_usd_per_connector_month(Profile(connectors=2)) == D("0.03044")


@pytest.mark.parametrize(("size", "units"), [(0, 1), (1, 1), (32 * KB, 1), (32 * KB + 1, 2), (64 * KB, 2),
                                             (64 * KB + 1, 3), (128 * KB, 4)])
def test_api_gateway_meters_each_message_per_started_32_kb(size, units):
    assert apigw_message_units(size) == units


@pytest.mark.parametrize(("size", "transactional", "units"), [
    (0, False, 1),  # a delete of nothing, a write refused on an absent item: still one
    (1024, False, 1), (1025, False, 2), (3000, False, 3), (1025, True, 4)])
def test_dynamodb_writes_per_started_kilobyte(size, transactional, units):
    assert dynamodb_write_units(size, transactional=transactional) == units


@pytest.mark.parametrize(("size", "consistent", "transactional", "units"), [
    (0, True, False, D(1)), (0, False, False, D("0.5")), (4096, True, False, D(1)), (4097, True, False, D(2)),
    (4097, False, False, D(1)), (9000, False, False, D("1.5")), (100, True, True, D(2))])
def test_dynamodb_reads_per_started_4_kb_halved_when_eventually_consistent(size, consistent, transactional, units):
    assert dynamodb_read_units(size, consistent=consistent, transactional=transactional) == units


def test_a_33_kb_call_and_a_small_reply_are_three_messages():
    assert Operations(inbound_bytes=(33 * KB,), outbound_bytes=(100,)).apigw_messages() == 3
    assert NOTHING.apigw_messages() == 0


# One heartbeat and one connection a month: a day-long month, a day-long heartbeat interval and connection.
ONE_A_MONTH = Profile(heartbeat_interval_s=86_400, sessions_per_day=0, connection_lifetime_h=24, days_per_month=D(1))
NO_TRANSFER = Prices(cloudfront_usd_per_gb_out=D(0), cloudfront_usd_per_gb_to_origin=D(0))


def test_one_heartbeat_and_one_connection_a_month():
    assert ONE_A_MONTH.occurrences_per_month() == {
        "Heartbeat": 1, "BootNotification": 1, "StatusNotification": 0, "Authorize": 0, "StartTransaction": 0,
        "MeterValues": 0, "StopTransaction": 0, CONNECT: 1, DISCONNECT: 1}
    ops = {
        "Heartbeat": Operations(inbound_bytes=(100,), outbound_bytes=(50,), write_units=1,
                                invocations=(Invocation(memory_mb=1024, duration_ms=10, log_bytes=MIB),)),
        "BootNotification": NOTHING,
        CONNECT: Operations(inbound_bytes=(), outbound_bytes=(), invocations=(Invocation(memory_mb=512, duration_ms=20),),
                            cloudfront_requests=1, cloudfront_function_invocations=1),
        DISCONNECT: NOTHING,
    }
    got = usd_per_connector_month(ONE_A_MONTH, ops, NO_TRANSFER)
    assert got == Breakdown(
        apigw_messages=D("0.000002"),  # a CALL and its reply: 2 / 1,000,000
        apigw_connection_minutes=D("0.00036"),  # 1,440 minutes * 0.25 / 1,000,000
        lambda_requests=D("0.0000004"),  # 2 invocations * 0.20 / 1,000,000
        lambda_duration=D("0.000000266668"),  # (1 GB * 0.010 s + 0.5 GB * 0.020 s) * 0.0000133334
        dynamodb=D("0.000000625"),  # 1 write unit * 0.625 / 1,000,000
        cloudwatch_logs=D("0.00048828125"),  # 1 MiB = 1/1024 GB * 0.50
        cloudfront=D("0.0000011"),  # 1 upgrade request * 0.01 / 10,000 + 1 function * 0.10 / 1,000,000
    )
    # 0.00036 + 0.00048828125 + 0.000002 + 0.0000004 + 0.000000625 + 0.0000011 + 0.000000266668
    assert got.total == D("0.000852672918")
    assert got.as_dict()["total"] == got.total


def test_a_heartbeat_over_32_kb_pays_two_messages_for_it():
    ops = {"Heartbeat": Operations(inbound_bytes=(33 * KB,), outbound_bytes=(50,)), "BootNotification": NOTHING,
           CONNECT: NOTHING, DISCONNECT: NOTHING}
    assert usd_per_connector_month(ONE_A_MONTH, ops, NO_TRANSFER).apigw_messages == D("0.000003")


def test_events_consumed_in_batches_of_ten():
    # One StopTransaction a month (a 1-day month, one session, no meter values or statuses): an event,
    # EventBridge's SendMessage plus a tenth of a ReceiveMessage and of a DeleteMessageBatch (1.2 SQS
    # requests), and a tenth of a 512 MB consumer invocation of 100 ms logging 10 KB.
    profile = Profile(heartbeat_interval_s=86_400, sessions_per_day=1, session_hours=0, status_notifications_per_session=0,
                      connection_lifetime_h=24, days_per_month=D(1))
    consumer = Invocation(memory_mb=512, duration_ms=100, log_bytes=10 * KB, count=D("0.1"))
    ops = {"Heartbeat": NOTHING, "BootNotification": NOTHING, "Authorize": NOTHING, "StartTransaction": NOTHING,
           "StopTransaction": Operations(inbound_bytes=(), outbound_bytes=(), events=1, sqs_requests=D("1.2"),
                                         invocations=(consumer,)),
           CONNECT: NOTHING, DISCONNECT: NOTHING}
    got = usd_per_connector_month(profile, ops, NO_TRANSFER)
    assert got.eventbridge == D("0.000001")  # 1 * 1.00 / 1,000,000
    assert got.sqs == D("0.00000048")  # 1.2 * 0.40 / 1,000,000
    assert got.lambda_requests == D("0.00000002")  # 0.1 * 0.20 / 1,000,000
    assert got.lambda_duration == D("0.000000066667")  # 0.1 * 0.5 GB * 0.1 s = 0.005 GB-s * 0.0000133334
    assert got.cloudwatch_logs == D("0.000000476837158203125")  # 0.1 * 10 KB = 1 KB = 2**-20 GB, * 0.50


def test_access_log_lines_are_priced_in_the_infrequent_access_class():
    # One heartbeat a month whose access log line is 1 MiB and whose function logs 1 MiB: 1/1024 GB at 0.25
    # beside 1/1024 GB at 0.50.
    ops = {"Heartbeat": Operations(inbound_bytes=(100,), outbound_bytes=(50,), access_log_bytes=MIB,
                                   invocations=(Invocation(memory_mb=1024, duration_ms=1, log_bytes=MIB),)),
           "BootNotification": NOTHING, CONNECT: NOTHING, DISCONNECT: NOTHING}
    got = usd_per_connector_month(ONE_A_MONTH, ops, NO_TRANSFER)
    assert got.cloudwatch_logs == D("0.000732421875")  # 0.25 / 1024 + 0.50 / 1024


def test_cloudfront_transfer_out_to_the_charger_and_to_the_origin():
    # 32,768 heartbeats of 32 KB each way: 1 GB to the origin (0.020) and 1 GB out to the charger (0.085).
    profile = Profile(heartbeat_interval_s=86_400, sessions_per_day=0, connection_lifetime_h=24,
                      days_per_month=D(32_768))
    ops = {"Heartbeat": Operations(inbound_bytes=(32 * KB,), outbound_bytes=(32 * KB,)), "BootNotification": NOTHING,
           CONNECT: NOTHING, DISCONNECT: NOTHING}
    assert usd_per_connector_month(profile, ops).cloudfront == D("0.105")


def test_charger_costs_are_shared_by_its_connectors():
    # 1 write unit a heartbeat, 8,766.72 heartbeats, a charger with 2 connectors and no sessions:
    # 8,766.72 * 0.625 / 1,000,000 / 2 = 0.00273960 USD per connector-month.
    ops = {"Heartbeat": Operations(inbound_bytes=(60,), outbound_bytes=(60,), write_units=1),
           "BootNotification": NOTHING, CONNECT: NOTHING, DISCONNECT: NOTHING}
    got = usd_per_connector_month(Profile(sessions_per_day=0, connectors=2), ops)
    assert got.dynamodb == D("0.002739600")
    assert got.apigw_connection_minutes == D("0.0054792")  # 43,833.6 * 0.25 / 1,000,000 / 2


def test_every_action_the_profile_sends_needs_its_operations():
    with pytest.raises(ValueError, match="StopTransaction"):
        usd_per_connector_month(Profile(), {a: NOTHING for a in Profile().occurrences_per_month() if a != "StopTransaction"})


def test_operations_for_actions_the_profile_never_sends_cost_nothing():
    ops = {a: NOTHING for a in ONE_A_MONTH.occurrences_per_month()}
    ops["DataTransfer"] = Operations(inbound_bytes=(100,), outbound_bytes=(100,), write_units=100)
    assert usd_per_connector_month(ONE_A_MONTH, ops).dynamodb == 0


def _ingress(duration_ms: int) -> Invocation:
    return Invocation(memory_mb=1024, duration_ms=duration_ms, log_bytes=700)


# Plausible, not measured: what the benchmark will count. One StatusNotification event and one SessionEnded
# event are each consumed alone (batches of one at this rate): SendMessage, ReceiveMessage, DeleteMessage.
PLAUSIBLE = {
    "Heartbeat": Operations((60,), (60,), write_units=D("0.5"), invocations=(_ingress(6),), access_log_bytes=300),
    "BootNotification": Operations((250,), (120,), read_units=D("0.5"), write_units=1, events=1,
                                   invocations=(_ingress(25),), access_log_bytes=300),
    "StatusNotification": Operations((200,), (30,), read_units=D("0.5"), write_units=1, events=1, sqs_requests=3,
                                     invocations=(_ingress(20), Invocation(512, 30, 700)), access_log_bytes=300),
    "Authorize": Operations((80,), (80,), read_units=D("0.5"), invocations=(_ingress(15),), access_log_bytes=300),
    "StartTransaction": Operations((200,), (90,), read_units=1, write_units=3, events=1,
                                   invocations=(_ingress(30),), access_log_bytes=300),
    "MeterValues": Operations((400,), (30,), write_units=1, invocations=(_ingress(15),), access_log_bytes=300),
    "StopTransaction": Operations((300,), (60,), read_units=2, write_units=3, events=2, sqs_requests=3,
                                  invocations=(_ingress(30), Invocation(512, 80, 1000)), access_log_bytes=300),
    CONNECT: Operations((), (), read_units=1, write_units=1, events=1,
                        invocations=(Invocation(512, 20, 700), Invocation(512, 30, 700)),
                        cloudfront_requests=1, cloudfront_function_invocations=1),
    DISCONNECT: Operations((), (), write_units=1, events=1, invocations=(Invocation(512, 20, 700),)),
}


def test_plausible_operations_cost_more_than_the_floor_and_api_gateway_is_the_floor():
    profile = Profile()
    got = usd_per_connector_month(profile, PLAUSIBLE)
    floor = floor_usd_per_connector_month(profile)
    # Every message is under 32 KB: API Gateway's two lines are exactly the floor; the rest is on top.
    assert got.apigw_messages + got.apigw_connection_minutes == floor
    assert floor < got.total
    assert ratio(got.total, floor) == got.total / floor
    assert all(value >= 0 for value in got.as_dict().values())


@pytest.mark.parametrize(("total", "floor", "expected"), [(D("0.06"), D("0.04"), D("1.5")),
                                                          (D("0.0450512"), D("0.0450512"), D(1))])
def test_ratio(total, floor, expected):
    assert ratio(total, floor) == expected


def test_ratio_needs_a_floor_and_the_target_is_1_3():
    with pytest.raises(ValueError):
        ratio(D(1), D(0))
    assert TARGET_RATIO == D("1.3")


def test_fixed_cost_of_the_stack():
    # 154 alarms * 0.10 + 1 dashboard * 3.00 + 5 secrets * 0.40 = 20.40 (docs/deploy.md), plus 42 metrics * 0.30.
    assert fixed_usd_per_month(custom_metrics=0) == D("20.40")
    assert fixed_usd_per_month() == D("33.00")
    assert fixed_usd_per_month(alarms=0, dashboards=0, secrets=0, custom_metrics=0) == 0


def test_fixed_cost_spread_over_500_and_10000_chargers():
    assert spread(D("16.60"), 500) == D("0.0332")
    assert spread(D("16.60"), 10_000) == D("0.00166")
    assert spread(D("7.30"), 500) == D("0.0146")
    assert spread(D("7.30"), 10_000) == D("0.00073")
    with pytest.raises(ValueError):
        spread(D("7.30"), 0)


def test_prices_are_after_dynamodbs_november_2024_cut():
    prices = Prices()
    assert (prices.dynamodb_usd_per_million_write_units, prices.dynamodb_usd_per_million_read_units) == (
        D("0.625"), D("0.125"))
    assert (prices.apigw_usd_per_million_messages, prices.apigw_usd_per_million_connection_minutes) == (
        D("1.00"), D("0.25"))


# --- meter values: their DynamoDB item and stream export, against Firehose from the ingress ---------------------

def test_a_connector_samples_240_times_a_day_in_either_version():
    # 4 sessions of 1 hour at one sample a minute: 240 a day, 7,305.6 a month; as many TransactionEvent Updated.
    assert samples_per_connector_month(Profile()) == samples_per_connector_month(Profile(protocol="ocpp2.0.1")) \
        == 240 * D("30.44") == D("7305.6")
    assert samples_per_connector_month(Profile(connectors=2)) == D("7305.6")  # sessions_per_day is per connector


def test_an_exporter_batch_holds_the_fleets_window_up_to_the_batch_size():
    # 500 connectors x 240 samples a day / 86,400 s x 300 s = 416.67 records; 10,000 connectors would be 8,333: 1,000.
    assert stream_batch_records(Profile(), 500).quantize(D("0.01")) == D("416.67")
    assert stream_batch_records(Profile(), 10_000) == 1000
    assert stream_batch_records(Profile(), 10_000, shards=10) == stream_batch_records(Profile(), 1_000)


def test_the_two_paths_of_a_sample_per_connector_month():
    paths = meter_values_paths(Profile(), 10_000, item_bytes=261)
    stream, firehose = paths["dynamodb_stream"], paths["firehose"]
    # 7,305.6 items of 261 bytes, one write unit each, at 0.625 USD per million.
    assert stream.dynamodb == D("0.004566")
    # The ingress waits 6 ms at 1,024 MB on each put: 7,305.6 x 0.006 GB-s at 0.0000133334.
    assert stream.ingress_wait == firehose.ingress_wait == D("43.8336") * D("0.0000133334")
    # 7.3056 full batches of 1,000: each 0.2 µUSD and 0.5 GB x 0.2 s, one PUT and (compaction) one GET.
    assert stream.exporter == D("7.3056") * (D("0.0000002") + D("0.1") * D("0.0000133334"))
    assert stream.s3 == D("7.3056") * D("0.0000054")
    # Firehose bills each record as 5 KB: 7,305.6 x 5,120 = 37,404,672 bytes, ingested and converted (0.029 + 0.018 per GiB);
    # its 2,922.24 deliveries a month (one per 900 s) are shared by the fleet.
    assert firehose.firehose == D(37_404_672) / 2**30 * D("0.047")
    assert firehose.s3 == D("2922.24") / 10_000 * D("0.0000054")
    assert firehose.dynamodb == firehose.exporter == stream.firehose == 0
    assert stream.total == stream.dynamodb + stream.ingress_wait + stream.exporter + stream.s3


def test_a_sample_over_a_kilobyte_writes_two_units_and_over_5_kb_is_two_firehose_records():
    small, big = meter_values_paths(Profile(), 500, item_bytes=1024), meter_values_paths(Profile(), 500, item_bytes=1025)
    assert big["dynamodb_stream"].dynamodb == 2 * small["dynamodb_stream"].dynamodb
    assert big["firehose"].firehose == small["firehose"].firehose
    over = meter_values_paths(Profile(), 500, item_bytes=5 * 1024 + 1)["firehose"]
    assert over.firehose == 2 * small["firehose"].firehose
