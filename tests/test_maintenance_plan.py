"""Mileage history, predicted mileage and the maintenance plan it drives (issue 7)."""

from __future__ import annotations

from datetime import date

import pytest

from crm.errors import ValidationError
from crm.models import MileageSource, ServiceKind
from crm.services import maintenance_plan, mileage
from tests import factories as f


def vehicle_with_history(store, readings, **kwargs):
    customer = f.CustomerFactory(store=store, group_id=store.group_id)
    vehicle = f.VehicleFactory(customer=customer, mileage_km=0, **kwargs)
    for on, km in readings:
        mileage.record_reading(f.db.session, vehicle, km, on, MileageSource.MANUAL)
    return vehicle


def test_predicted_mileage_follows_the_vehicles_own_history(org, session):
    vehicle = vehicle_with_history(
        org.store_a, [(date(2026, 1, 1), 1000), (date(2026, 3, 2), 4000)]
    )
    assert mileage.daily_km(session, vehicle) == pytest.approx(50.0)
    assert mileage.predicted_km(session, vehicle, date(2026, 4, 1)) == 5500
    assert mileage.date_reaching(session, vehicle, 6000) == date(2026, 4, 11)


def test_vehicle_without_history_uses_the_stores_average(org, session):
    vehicle_with_history(org.store_a, [(date(2026, 1, 1), 0), (date(2026, 1, 31), 600)])  # 20/day
    vehicle_with_history(org.store_a, [(date(2026, 1, 1), 0), (date(2026, 1, 31), 1800)])  # 60/day
    vehicle_with_history(org.store_b, [(date(2026, 1, 1), 0), (date(2026, 1, 31), 9000)])  # store B
    new = vehicle_with_history(org.store_a, [(date(2026, 6, 1), 10)])
    assert mileage.daily_km(session, new) == pytest.approx(40.0)
    assert mileage.predicted_km(session, new, date(2026, 6, 11)) == 410


def test_store_without_any_history_falls_back_to_the_default_rate(org, session):
    new = vehicle_with_history(org.store_b, [(date(2026, 6, 1), 0)])
    assert mileage.daily_km(session, new) == mileage.DEFAULT_DAILY_KM


def test_readings_closer_than_two_weeks_do_not_make_a_rate(org, session):
    vehicle = vehicle_with_history(org.store_b, [(date(2026, 6, 1), 0), (date(2026, 6, 3), 900)])
    assert mileage.daily_km(session, vehicle) == mileage.DEFAULT_DAILY_KM


def test_mileage_lower_than_the_last_reading_is_refused(org, session):
    vehicle = vehicle_with_history(org.store_a, [(date(2026, 3, 1), 8000)])
    with pytest.raises(ValidationError) as error:
        mileage.record_reading(session, vehicle, 7999, date(2026, 4, 1), MileageSource.MANUAL)
    assert error.value.field == "mileage_km"
    assert vehicle.mileage_km == 8000


def test_an_old_reading_may_be_added_if_it_fits_between_the_others(org, session):
    vehicle = vehicle_with_history(
        org.store_a, [(date(2026, 1, 1), 1000), (date(2026, 5, 1), 9000)]
    )
    mileage.record_reading(session, vehicle, 5000, date(2026, 3, 1), MileageSource.SERVICE)
    with pytest.raises(ValidationError):
        mileage.record_reading(session, vehicle, 9500, date(2026, 4, 1), MileageSource.SERVICE)
    assert vehicle.mileage_km == 9000


def delivered_then_driven(store, delivered_on, *later):
    """A car delivered at 0 km, its plan started, then the readings ``later``."""
    vehicle = vehicle_with_history(store, [(delivered_on, 0)])
    maintenance_plan.start(f.db.session, vehicle, delivered_on)
    for on, km in later:
        mileage.record_reading(f.db.session, vehicle, km, on, MileageSource.MANUAL)
    maintenance_plan.replan(f.db.session, vehicle)
    return vehicle


def test_first_service_falls_due_by_date_when_the_car_is_driven_little(org, session):
    vehicle = delivered_then_driven(org.store_b, date(2026, 1, 1), (date(2026, 3, 2), 600))
    # 10 km a day would reach 5,000 km in May 2027; six months come first.
    assert (vehicle.first_maintenance_date, vehicle.first_maintenance_km) == (
        date(2026, 7, 1),
        5000,
    )
    assert vehicle.next_service_kind == ServiceKind.FIRST_MAINTENANCE
    assert vehicle.next_service_on == date(2026, 7, 1)


def test_first_service_falls_due_early_when_the_predicted_mileage_gets_there_first(org, session):
    vehicle = delivered_then_driven(org.store_b, date(2026, 1, 1), (date(2026, 1, 31), 3000))
    # 100 km a day: 5,000 km on 20 February.
    assert vehicle.next_service_on == date(2026, 2, 20)
    assert vehicle.next_service_km == 5000


def test_after_a_maintenance_the_models_interval_applies(org, session):
    model = f.CarModelFactory(group_id=org.store_a.group_id, name="汉兰达")
    model.service_interval_months, model.service_interval_km = 6, 7500
    vehicle = vehicle_with_history(org.store_b, [(date(2026, 1, 1), 0)], car_model_id=model.id)
    maintenance_plan.start(session, vehicle, date(2026, 1, 1))
    order = f.ServiceOrderFactory(
        vehicle=vehicle,
        kind=ServiceKind.FIRST_MAINTENANCE.value,
        opened_on=date(2026, 4, 1),
        mileage_km=3000,
    )
    mileage.record_reading(session, vehicle, 3000, date(2026, 4, 1), MileageSource.SERVICE, order)
    maintenance_plan.replan(session, vehicle)
    # 3,000 km in 90 days (33.3 a day): 10,500 km on 15 Nov; by time 1 October comes first.
    assert vehicle.next_service_kind == ServiceKind.PERIODIC_MAINTENANCE
    assert (vehicle.next_service_on, vehicle.next_service_km) == (date(2026, 10, 1), 10500)


def test_a_repair_does_not_reset_the_maintenance_interval(org, session):
    vehicle = vehicle_with_history(org.store_b, [(date(2026, 1, 1), 0)])
    maintenance_plan.start(session, vehicle, date(2026, 1, 1))
    f.ServiceOrderFactory(
        vehicle=vehicle, kind=ServiceKind.REPAIR.value, opened_on=date(2026, 2, 1), mileage_km=900
    )
    maintenance_plan.replan(session, vehicle)
    assert vehicle.next_service_kind == ServiceKind.FIRST_MAINTENANCE
