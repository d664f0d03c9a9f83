#!/usr/bin/env bash
# Defines (or clears, or lists) a RabbitMQ dynamic shovel between two REGARDS / Herald instances, as the
# REGARDS-to-REGARDS acknowledgement workflow needs (docs/catalog.md, "REGARDS to REGARDS with acknowledgement").
#
#   scripts/shovel.sh set --tenant project1 --name ack-from-b --vhost regards.multitenant.manager \
#     --src-uri 'amqp://user:password@broker-b:5672/regards.multitenant.manager' --src-queue regards-b.acks \
#     --dest-uri 'amqp:///regards.multitenant.manager' \
#     --dest-exchange regards.broadcast.fr.cnes.regards.modules.feature.dto.event.in.DisseminationAckEvent
#   scripts/shovel.sh set … --print     # only print the rabbitmqctl command (to run on the broker host)
#   scripts/shovel.sh clear --tenant project1 --name ack-from-b --vhost regards.multitenant.manager
#   scripts/shovel.sh status --tenant project1
#
# `set` first declares the source queue with REGARDS' arguments (x-max-priority 255, DLX regards.DLX): a shovel
# that finds its source queue missing would declare it without them, and the DisseminationAckSender would then be
# refused ("inequivalent arg"). Needs rabbitmqctl on this host and the rabbitmq_shovel plugin enabled
# (`rabbitmq-plugins enable rabbitmq_shovel`). The tenant's audit trail records who defined or cleared it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx src/cli/index.ts catalog shovel "$@"
