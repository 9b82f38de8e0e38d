WITH `t1` AS (
  SELECT
    NULLIF(
      IF(
        COALESCE(
          STARTSWITH(`t0`.`member_id`, ' ')
          OR STARTSWITH(`t0`.`member_id`, '\t')
          OR STARTSWITH(`t0`.`member_id`, '\r')
          OR STARTSWITH(`t0`.`member_id`, '\n')
          OR ENDSWITH(`t0`.`member_id`, ' ')
          OR ENDSWITH(`t0`.`member_id`, '\t')
          OR ENDSWITH(`t0`.`member_id`, '\r')
          OR ENDSWITH(`t0`.`member_id`, '\n'),
          FALSE
        ),
        REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
        `t0`.`member_id`
      ),
      ''
    ) AS `member_id`,
    TRY_CAST(IF(
      NULLIF(
        IF(
          COALESCE(
            STARTSWITH(`t0`.`birth_date`, ' ')
            OR STARTSWITH(`t0`.`birth_date`, '\t')
            OR STARTSWITH(`t0`.`birth_date`, '\r')
            OR STARTSWITH(`t0`.`birth_date`, '\n')
            OR ENDSWITH(`t0`.`birth_date`, ' ')
            OR ENDSWITH(`t0`.`birth_date`, '\t')
            OR ENDSWITH(`t0`.`birth_date`, '\r')
            OR ENDSWITH(`t0`.`birth_date`, '\n'),
            FALSE
          ),
          REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
          `t0`.`birth_date`
        ),
        ''
      ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
      NULLIF(
        IF(
          COALESCE(
            STARTSWITH(`t0`.`birth_date`, ' ')
            OR STARTSWITH(`t0`.`birth_date`, '\t')
            OR STARTSWITH(`t0`.`birth_date`, '\r')
            OR STARTSWITH(`t0`.`birth_date`, '\n')
            OR ENDSWITH(`t0`.`birth_date`, ' ')
            OR ENDSWITH(`t0`.`birth_date`, '\t')
            OR ENDSWITH(`t0`.`birth_date`, '\r')
            OR ENDSWITH(`t0`.`birth_date`, '\n'),
            FALSE
          ),
          REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
          `t0`.`birth_date`
        ),
        ''
      ),
      CAST(NULL AS STRING)
    ) AS DATE) AS `birth_date`,
    NULLIF(
      IF(
        COALESCE(
          STARTSWITH(`t0`.`sex`, ' ')
          OR STARTSWITH(`t0`.`sex`, '\t')
          OR STARTSWITH(`t0`.`sex`, '\r')
          OR STARTSWITH(`t0`.`sex`, '\n')
          OR ENDSWITH(`t0`.`sex`, ' ')
          OR ENDSWITH(`t0`.`sex`, '\t')
          OR ENDSWITH(`t0`.`sex`, '\r')
          OR ENDSWITH(`t0`.`sex`, '\n'),
          FALSE
        ),
        REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
        `t0`.`sex`
      ),
      ''
    ) AS `sex`,
    NULLIF(
      IF(
        COALESCE(
          STARTSWITH(`t0`.`dual_status_code`, ' ')
          OR STARTSWITH(`t0`.`dual_status_code`, '\t')
          OR STARTSWITH(`t0`.`dual_status_code`, '\r')
          OR STARTSWITH(`t0`.`dual_status_code`, '\n')
          OR ENDSWITH(`t0`.`dual_status_code`, ' ')
          OR ENDSWITH(`t0`.`dual_status_code`, '\t')
          OR ENDSWITH(`t0`.`dual_status_code`, '\r')
          OR ENDSWITH(`t0`.`dual_status_code`, '\n'),
          FALSE
        ),
        REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
        `t0`.`dual_status_code`
      ),
      ''
    ) AS `dual_status_code`,
    CASE
      WHEN LOWER(
        NULLIF(
          IF(
            COALESCE(
              STARTSWITH(`t0`.`esrd`, ' ')
              OR STARTSWITH(`t0`.`esrd`, '\t')
              OR STARTSWITH(`t0`.`esrd`, '\r')
              OR STARTSWITH(`t0`.`esrd`, '\n')
              OR ENDSWITH(`t0`.`esrd`, ' ')
              OR ENDSWITH(`t0`.`esrd`, '\t')
              OR ENDSWITH(`t0`.`esrd`, '\r')
              OR ENDSWITH(`t0`.`esrd`, '\n'),
              FALSE
            ),
            REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
            `t0`.`esrd`
          ),
          ''
        )
      ) IN ('true', 't', '1', 'y', 'yes')
      THEN TRUE
      WHEN LOWER(
        NULLIF(
          IF(
            COALESCE(
              STARTSWITH(`t0`.`esrd`, ' ')
              OR STARTSWITH(`t0`.`esrd`, '\t')
              OR STARTSWITH(`t0`.`esrd`, '\r')
              OR STARTSWITH(`t0`.`esrd`, '\n')
              OR ENDSWITH(`t0`.`esrd`, ' ')
              OR ENDSWITH(`t0`.`esrd`, '\t')
              OR ENDSWITH(`t0`.`esrd`, '\r')
              OR ENDSWITH(`t0`.`esrd`, '\n'),
              FALSE
            ),
            REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
            `t0`.`esrd`
          ),
          ''
        )
      ) IN ('false', 'f', '0', 'n', 'no')
      THEN FALSE
      ELSE CAST(NULL AS BOOLEAN)
    END AS `esrd`,
    NULLIF(
      CONCAT_WS(
        '; ',
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`member_id`, ' ')
                    OR STARTSWITH(`t0`.`member_id`, '\t')
                    OR STARTSWITH(`t0`.`member_id`, '\r')
                    OR STARTSWITH(`t0`.`member_id`, '\n')
                    OR ENDSWITH(`t0`.`member_id`, ' ')
                    OR ENDSWITH(`t0`.`member_id`, '\t')
                    OR ENDSWITH(`t0`.`member_id`, '\r')
                    OR ENDSWITH(`t0`.`member_id`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`member_id`
                ),
                ''
              ) IS NULL
            )
            AND NOT (
              FALSE
            ),
            FALSE
          )
          THEN 'member_id: required field is empty'
          WHEN COALESCE(FALSE, FALSE)
          THEN 'member_id: not a valid string'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`birth_date`, ' ')
                    OR STARTSWITH(`t0`.`birth_date`, '\t')
                    OR STARTSWITH(`t0`.`birth_date`, '\r')
                    OR STARTSWITH(`t0`.`birth_date`, '\n')
                    OR ENDSWITH(`t0`.`birth_date`, ' ')
                    OR ENDSWITH(`t0`.`birth_date`, '\t')
                    OR ENDSWITH(`t0`.`birth_date`, '\r')
                    OR ENDSWITH(`t0`.`birth_date`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`birth_date`
                ),
                ''
              ) IS NOT NULL
            )
            AND (
              TRY_CAST(IF(
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ),
                CAST(NULL AS STRING)
              ) AS DATE) IS NULL
            ),
            FALSE
          )
          THEN 'birth_date: not a valid date (YYYY-MM-DD)'
          WHEN COALESCE(
            (
              TRY_CAST(IF(
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ),
                CAST(NULL AS STRING)
              ) AS DATE) IS NOT NULL
            )
            AND (
              (
                TRY_CAST(IF(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ),
                  CAST(NULL AS STRING)
                ) AS DATE) < CAST('1800-01-01' AS DATE)
              )
              OR (
                TRY_CAST(IF(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ),
                  CAST(NULL AS STRING)
                ) AS DATE) > CAST('2199-12-31' AS DATE)
              )
            ),
            FALSE
          )
          THEN 'birth_date: date outside 1800-01-01 to 2199-12-31'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'sex: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`sex`, ' ')
                    OR STARTSWITH(`t0`.`sex`, '\t')
                    OR STARTSWITH(`t0`.`sex`, '\r')
                    OR STARTSWITH(`t0`.`sex`, '\n')
                    OR ENDSWITH(`t0`.`sex`, ' ')
                    OR ENDSWITH(`t0`.`sex`, '\t')
                    OR ENDSWITH(`t0`.`sex`, '\r')
                    OR ENDSWITH(`t0`.`sex`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`sex`
                ),
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`sex`, ' ')
                    OR STARTSWITH(`t0`.`sex`, '\t')
                    OR STARTSWITH(`t0`.`sex`, '\r')
                    OR STARTSWITH(`t0`.`sex`, '\n')
                    OR ENDSWITH(`t0`.`sex`, ' ')
                    OR ENDSWITH(`t0`.`sex`, '\t')
                    OR ENDSWITH(`t0`.`sex`, '\r')
                    OR ENDSWITH(`t0`.`sex`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`sex`
                ),
                ''
              ) IN ('M', 'F', 'U')
            ),
            FALSE
          )
          THEN 'sex: unknown code (allowed: M, F, U)'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'dual_status_code: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`dual_status_code`, ' ')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\t')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\r')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\n')
                    OR ENDSWITH(`t0`.`dual_status_code`, ' ')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\t')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\r')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`dual_status_code`
                ),
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`dual_status_code`, ' ')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\t')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\r')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\n')
                    OR ENDSWITH(`t0`.`dual_status_code`, ' ')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\t')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\r')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`dual_status_code`
                ),
                ''
              ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
            ),
            FALSE
          )
          THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
          ELSE CAST(NULL AS STRING)
        END,
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`esrd`, ' ')
                    OR STARTSWITH(`t0`.`esrd`, '\t')
                    OR STARTSWITH(`t0`.`esrd`, '\r')
                    OR STARTSWITH(`t0`.`esrd`, '\n')
                    OR ENDSWITH(`t0`.`esrd`, ' ')
                    OR ENDSWITH(`t0`.`esrd`, '\t')
                    OR ENDSWITH(`t0`.`esrd`, '\r')
                    OR ENDSWITH(`t0`.`esrd`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`esrd`
                ),
                ''
              ) IS NOT NULL
            )
            AND (
              CASE
                WHEN LOWER(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`esrd`, ' ')
                        OR STARTSWITH(`t0`.`esrd`, '\t')
                        OR STARTSWITH(`t0`.`esrd`, '\r')
                        OR STARTSWITH(`t0`.`esrd`, '\n')
                        OR ENDSWITH(`t0`.`esrd`, ' ')
                        OR ENDSWITH(`t0`.`esrd`, '\t')
                        OR ENDSWITH(`t0`.`esrd`, '\r')
                        OR ENDSWITH(`t0`.`esrd`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`esrd`
                    ),
                    ''
                  )
                ) IN ('true', 't', '1', 'y', 'yes')
                THEN TRUE
                WHEN LOWER(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`esrd`, ' ')
                        OR STARTSWITH(`t0`.`esrd`, '\t')
                        OR STARTSWITH(`t0`.`esrd`, '\r')
                        OR STARTSWITH(`t0`.`esrd`, '\n')
                        OR ENDSWITH(`t0`.`esrd`, ' ')
                        OR ENDSWITH(`t0`.`esrd`, '\t')
                        OR ENDSWITH(`t0`.`esrd`, '\r')
                        OR ENDSWITH(`t0`.`esrd`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`esrd`
                    ),
                    ''
                  )
                ) IN ('false', 'f', '0', 'n', 'no')
                THEN FALSE
                ELSE CAST(NULL AS BOOLEAN)
              END IS NULL
            ),
            FALSE
          )
          THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
          ELSE CAST(NULL AS STRING)
        END
      ),
      ''
    ) AS `_reason`,
    COALESCE(
      IF(
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`member_id`, ' ')
                    OR STARTSWITH(`t0`.`member_id`, '\t')
                    OR STARTSWITH(`t0`.`member_id`, '\r')
                    OR STARTSWITH(`t0`.`member_id`, '\n')
                    OR ENDSWITH(`t0`.`member_id`, ' ')
                    OR ENDSWITH(`t0`.`member_id`, '\t')
                    OR ENDSWITH(`t0`.`member_id`, '\r')
                    OR ENDSWITH(`t0`.`member_id`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`member_id`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`member_id`
                ),
                ''
              ) IS NULL
            )
            AND NOT (
              FALSE
            ),
            FALSE
          )
          THEN 'member_id: required field is empty'
          WHEN COALESCE(FALSE, FALSE)
          THEN 'member_id: not a valid string'
          ELSE CAST(NULL AS STRING)
        END IS NULL,
        CAST(NULL AS STRING),
        'member_id'
      ),
      IF(
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`birth_date`, ' ')
                    OR STARTSWITH(`t0`.`birth_date`, '\t')
                    OR STARTSWITH(`t0`.`birth_date`, '\r')
                    OR STARTSWITH(`t0`.`birth_date`, '\n')
                    OR ENDSWITH(`t0`.`birth_date`, ' ')
                    OR ENDSWITH(`t0`.`birth_date`, '\t')
                    OR ENDSWITH(`t0`.`birth_date`, '\r')
                    OR ENDSWITH(`t0`.`birth_date`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`birth_date`
                ),
                ''
              ) IS NOT NULL
            )
            AND (
              TRY_CAST(IF(
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ),
                CAST(NULL AS STRING)
              ) AS DATE) IS NULL
            ),
            FALSE
          )
          THEN 'birth_date: not a valid date (YYYY-MM-DD)'
          WHEN COALESCE(
            (
              TRY_CAST(IF(
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                NULLIF(
                  IF(
                    COALESCE(
                      STARTSWITH(`t0`.`birth_date`, ' ')
                      OR STARTSWITH(`t0`.`birth_date`, '\t')
                      OR STARTSWITH(`t0`.`birth_date`, '\r')
                      OR STARTSWITH(`t0`.`birth_date`, '\n')
                      OR ENDSWITH(`t0`.`birth_date`, ' ')
                      OR ENDSWITH(`t0`.`birth_date`, '\t')
                      OR ENDSWITH(`t0`.`birth_date`, '\r')
                      OR ENDSWITH(`t0`.`birth_date`, '\n'),
                      FALSE
                    ),
                    REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                    `t0`.`birth_date`
                  ),
                  ''
                ),
                CAST(NULL AS STRING)
              ) AS DATE) IS NOT NULL
            )
            AND (
              (
                TRY_CAST(IF(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ),
                  CAST(NULL AS STRING)
                ) AS DATE) < CAST('1800-01-01' AS DATE)
              )
              OR (
                TRY_CAST(IF(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ) RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`birth_date`, ' ')
                        OR STARTSWITH(`t0`.`birth_date`, '\t')
                        OR STARTSWITH(`t0`.`birth_date`, '\r')
                        OR STARTSWITH(`t0`.`birth_date`, '\n')
                        OR ENDSWITH(`t0`.`birth_date`, ' ')
                        OR ENDSWITH(`t0`.`birth_date`, '\t')
                        OR ENDSWITH(`t0`.`birth_date`, '\r')
                        OR ENDSWITH(`t0`.`birth_date`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`birth_date`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`birth_date`
                    ),
                    ''
                  ),
                  CAST(NULL AS STRING)
                ) AS DATE) > CAST('2199-12-31' AS DATE)
              )
            ),
            FALSE
          )
          THEN 'birth_date: date outside 1800-01-01 to 2199-12-31'
          ELSE CAST(NULL AS STRING)
        END IS NULL,
        CAST(NULL AS STRING),
        'birth_date'
      ),
      IF(
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'sex: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`sex`, ' ')
                    OR STARTSWITH(`t0`.`sex`, '\t')
                    OR STARTSWITH(`t0`.`sex`, '\r')
                    OR STARTSWITH(`t0`.`sex`, '\n')
                    OR ENDSWITH(`t0`.`sex`, ' ')
                    OR ENDSWITH(`t0`.`sex`, '\t')
                    OR ENDSWITH(`t0`.`sex`, '\r')
                    OR ENDSWITH(`t0`.`sex`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`sex`
                ),
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`sex`, ' ')
                    OR STARTSWITH(`t0`.`sex`, '\t')
                    OR STARTSWITH(`t0`.`sex`, '\r')
                    OR STARTSWITH(`t0`.`sex`, '\n')
                    OR ENDSWITH(`t0`.`sex`, ' ')
                    OR ENDSWITH(`t0`.`sex`, '\t')
                    OR ENDSWITH(`t0`.`sex`, '\r')
                    OR ENDSWITH(`t0`.`sex`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`sex`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`sex`
                ),
                ''
              ) IN ('M', 'F', 'U')
            ),
            FALSE
          )
          THEN 'sex: unknown code (allowed: M, F, U)'
          ELSE CAST(NULL AS STRING)
        END IS NULL,
        CAST(NULL AS STRING),
        'sex'
      ),
      IF(
        CASE
          WHEN COALESCE(FALSE, FALSE)
          THEN 'dual_status_code: not a valid string'
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`dual_status_code`, ' ')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\t')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\r')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\n')
                    OR ENDSWITH(`t0`.`dual_status_code`, ' ')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\t')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\r')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`dual_status_code`
                ),
                ''
              ) IS NOT NULL
            )
            AND NOT (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`dual_status_code`, ' ')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\t')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\r')
                    OR STARTSWITH(`t0`.`dual_status_code`, '\n')
                    OR ENDSWITH(`t0`.`dual_status_code`, ' ')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\t')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\r')
                    OR ENDSWITH(`t0`.`dual_status_code`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`dual_status_code`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`dual_status_code`
                ),
                ''
              ) IN ('00', '01', '02', '03', '04', '05', '06', '08', '09', '10', '99', 'NA')
            ),
            FALSE
          )
          THEN 'dual_status_code: unknown code (allowed: 00, 01, 02, 03, 04, 05, 06, 08, 09, 10, 99, NA)'
          ELSE CAST(NULL AS STRING)
        END IS NULL,
        CAST(NULL AS STRING),
        'dual_status_code'
      ),
      IF(
        CASE
          WHEN COALESCE(
            (
              NULLIF(
                IF(
                  COALESCE(
                    STARTSWITH(`t0`.`esrd`, ' ')
                    OR STARTSWITH(`t0`.`esrd`, '\t')
                    OR STARTSWITH(`t0`.`esrd`, '\r')
                    OR STARTSWITH(`t0`.`esrd`, '\n')
                    OR ENDSWITH(`t0`.`esrd`, ' ')
                    OR ENDSWITH(`t0`.`esrd`, '\t')
                    OR ENDSWITH(`t0`.`esrd`, '\r')
                    OR ENDSWITH(`t0`.`esrd`, '\n'),
                    FALSE
                  ),
                  REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                  `t0`.`esrd`
                ),
                ''
              ) IS NOT NULL
            )
            AND (
              CASE
                WHEN LOWER(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`esrd`, ' ')
                        OR STARTSWITH(`t0`.`esrd`, '\t')
                        OR STARTSWITH(`t0`.`esrd`, '\r')
                        OR STARTSWITH(`t0`.`esrd`, '\n')
                        OR ENDSWITH(`t0`.`esrd`, ' ')
                        OR ENDSWITH(`t0`.`esrd`, '\t')
                        OR ENDSWITH(`t0`.`esrd`, '\r')
                        OR ENDSWITH(`t0`.`esrd`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`esrd`
                    ),
                    ''
                  )
                ) IN ('true', 't', '1', 'y', 'yes')
                THEN TRUE
                WHEN LOWER(
                  NULLIF(
                    IF(
                      COALESCE(
                        STARTSWITH(`t0`.`esrd`, ' ')
                        OR STARTSWITH(`t0`.`esrd`, '\t')
                        OR STARTSWITH(`t0`.`esrd`, '\r')
                        OR STARTSWITH(`t0`.`esrd`, '\n')
                        OR ENDSWITH(`t0`.`esrd`, ' ')
                        OR ENDSWITH(`t0`.`esrd`, '\t')
                        OR ENDSWITH(`t0`.`esrd`, '\r')
                        OR ENDSWITH(`t0`.`esrd`, '\n'),
                        FALSE
                      ),
                      REGEXP_REPLACE(`t0`.`esrd`, '^[ \t\r\n]+|[ \t\r\n]+$', ''),
                      `t0`.`esrd`
                    ),
                    ''
                  )
                ) IN ('false', 'f', '0', 'n', 'no')
                THEN FALSE
                ELSE CAST(NULL AS BOOLEAN)
              END IS NULL
            ),
            FALSE
          )
          THEN 'esrd: not a boolean (true/false, 1/0, Y/N)'
          ELSE CAST(NULL AS STRING)
        END IS NULL,
        CAST(NULL AS STRING),
        'esrd'
      )
    ) AS `_field`,
    `t0`.`source_file`,
    `t0`.`source_line`,
    `t0`.`_record`
  FROM `raw` AS `t0`
), `t4` AS (
  SELECT
    *
  FROM `t1` AS `t2`
  WHERE
    `t2`.`_reason` IS NULL
)
SELECT
  `t16`.`member_id`,
  `t16`.`birth_date`,
  CAST(NULL AS DATE) AS `death_date`,
  `t16`.`sex`,
  CAST(NULL AS STRING) AS `race_code`,
  CAST(NULL AS STRING) AS `zip_code`,
  CAST(NULL AS STRING) AS `state_code`,
  CAST(NULL AS STRING) AS `county_fips`,
  CAST(NULL AS STRING) AS `ssa_county_code`,
  `t16`.`dual_status_code`,
  CAST(NULL AS STRING) AS `orec`,
  CAST(NULL AS STRING) AS `crec`,
  `t16`.`esrd`,
  CAST(NULL AS BOOLEAN) AS `institutional`,
  CAST(NULL AS BOOLEAN) AS `medicaid`,
  CAST(NULL AS STRING) AS `mbi`,
  'csv' AS `source_format`,
  `t16`.`source_file`,
  `t16`.`source_line`
FROM (
  SELECT
    *
  FROM (
    SELECT
      `t14`.`member_id`,
      `t14`.`birth_date`,
      `t14`.`sex`,
      `t14`.`dual_status_code`,
      `t14`.`esrd`,
      IF(
        `t14`.`_later`,
        CONCAT(
          'duplicate key (member_id): first loaded from ',
          CONCAT(`t14`.`_first_file`, ' line ', CAST(`t14`.`_first_line` AS STRING))
        ),
        `t14`.`_reason`
      ) AS `_reason`,
      IF(`t14`.`_later`, 'member_id', `t14`.`_field`) AS `_field`,
      `t14`.`source_file`,
      `t14`.`source_line`,
      `t14`.`_record`
    FROM (
      SELECT
        `t13`.`member_id`,
        `t13`.`birth_date`,
        `t13`.`sex`,
        `t13`.`dual_status_code`,
        `t13`.`esrd`,
        `t13`.`_reason`,
        `t13`.`_field`,
        `t13`.`source_file`,
        `t13`.`source_line`,
        `t13`.`_record`,
        `t13`.`_valid`,
        `t13`.`_valid`
        AND (
          (
            ROW_NUMBER() OVER (
              PARTITION BY `t13`.`_valid`, `t13`.`member_id`
              ORDER BY `t13`.`source_file` ASC NULLS LAST, `t13`.`source_line` ASC NULLS LAST
            ) - 1
          ) > 0
        ) AS `_later`,
        FIRST(`t13`.`source_line`) IGNORE NULLS OVER (
          PARTITION BY `t13`.`_valid`, `t13`.`member_id`
          ORDER BY `t13`.`source_file` ASC NULLS LAST, `t13`.`source_line` ASC NULLS LAST
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS `_first_line`,
        FIRST(`t13`.`source_file`) IGNORE NULLS OVER (
          PARTITION BY `t13`.`_valid`, `t13`.`member_id`
          ORDER BY `t13`.`source_file` ASC NULLS LAST, `t13`.`source_line` ASC NULLS LAST
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS `_first_file`
      FROM (
        SELECT
          `t11`.`member_id`,
          `t11`.`birth_date`,
          `t11`.`sex`,
          `t11`.`dual_status_code`,
          `t11`.`esrd`,
          `t11`.`_reason`,
          `t11`.`_field`,
          `t11`.`source_file`,
          `t11`.`source_line`,
          `t11`.`_record`,
          `t11`.`_reason` IS NULL AS `_valid`
        FROM (
          SELECT
            `t6`.`member_id`,
            `t6`.`birth_date`,
            `t6`.`sex`,
            `t6`.`dual_status_code`,
            `t6`.`esrd`,
            `t6`.`_reason`,
            `t6`.`_field`,
            `t6`.`source_file`,
            `t6`.`source_line`,
            `t6`.`_record`
          FROM `t4` AS `t6`
          LEFT SEMI JOIN (
            SELECT
              `t7`.`member_id`
            FROM (
              SELECT
                `t5`.`member_id`,
                COUNT(*) AS `_n`
              FROM `t4` AS `t5`
              GROUP BY
                1
            ) AS `t7`
            WHERE
              `t7`.`_n` > 1
          ) AS `t9`
            ON `t6`.`member_id` = `t9`.`member_id`
        ) AS `t11`
      ) AS `t13`
    ) AS `t14`
  ) AS `t15`
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM `t1` AS `t2`
      WHERE
        `t2`.`_reason` IS NOT NULL
    ) AS `t3`
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        `t6`.`member_id`,
        `t6`.`birth_date`,
        `t6`.`sex`,
        `t6`.`dual_status_code`,
        `t6`.`esrd`,
        `t6`.`_reason`,
        `t6`.`_field`,
        `t6`.`source_file`,
        `t6`.`source_line`,
        `t6`.`_record`
      FROM `t4` AS `t6`
      LEFT ANTI JOIN (
        SELECT
          `t7`.`member_id`
        FROM (
          SELECT
            `t5`.`member_id`,
            COUNT(*) AS `_n`
          FROM `t4` AS `t5`
          GROUP BY
            1
        ) AS `t7`
        WHERE
          `t7`.`_n` > 1
      ) AS `t9`
        ON `t6`.`member_id` = `t9`.`member_id`
    ) AS `t10`
  ) AS `t12`
) AS `t16`
WHERE
  `t16`.`_reason` IS NULL
