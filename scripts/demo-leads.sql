-- Demo data for `npm start`: a leads table as our users have it, and a few dozen leads in Russian and
-- English. Seeded only into an empty table, so pointing the demo at a real database never adds rows to it.
CREATE TABLE IF NOT EXISTS leads (
  id bigserial PRIMARY KEY,
  title text,
  description text,
  city text,
  price numeric,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO leads (title, description, city, price)
SELECT v.title, v.description, v.city, v.price
FROM (VALUES
  ('Двухкомнатная квартира у метро', 'Светлая квартира 54 м², 5 минут пешком до станции, свежий ремонт', 'Москва', 14500000),
  ('Студия в новостройке', 'Студия 28 м² с отделкой, закрытый двор, подземный паркинг', 'Санкт-Петербург', 6900000),
  ('Дом с участком', 'Кирпичный дом 140 м² на участке 12 соток, газ, скважина, баня', 'Подмосковье', 18900000),
  ('Сдаю однокомнатную квартиру', 'Долгосрочная аренда, мебель и техника, рядом парк и школа', 'Казань', 35000),
  ('Офис в бизнес-центре', 'Помещение 120 м² класса B+, отдельный вход, парковка для клиентов', 'Екатеринбург', 250000),
  ('Ищу квартиру для семьи', 'Нужна трёхкомнатная квартира рядом с детским садом и метро', 'Москва', 20000000),
  ('Продаю Toyota Camry 2019', 'Один владелец, пробег 62 000 км, полный сервис у дилера', 'Новосибирск', 2650000),
  ('Kia Rio в отличном состоянии', 'Автомат, зимняя резина в подарок, не битая, не крашеная', 'Краснодар', 1150000),
  ('Ремонт квартир под ключ', 'Бригада с опытом 10 лет: электрика, сантехника, плитка, гарантия', 'Москва', NULL),
  ('Уборка офисов', 'Ежедневная уборка офисных помещений, свои средства и инвентарь', 'Санкт-Петербург', NULL),
  ('Репетитор по английскому', 'Подготовка к IELTS и ЕГЭ, занятия онлайн и очно', 'Онлайн', 2000),
  ('Курсы программирования для детей', 'Python и Scratch для школьников 8–14 лет, небольшие группы', 'Казань', 6000),
  ('Грузоперевозки по городу', 'Газель с грузчиками, переезды квартир и офисов, без выходных', 'Екатеринбург', 1500),
  ('Продаю велосипед', 'Горный велосипед, 21 скорость, рама 18 дюймов, почти новый', 'Пермь', 22000),
  ('Дача у озера', 'Летний домик и баня на берегу озера, рыбалка, тишина', 'Карелия', 3200000),
  ('Коммерческое помещение под кафе', 'Первый этаж, витринные окна, высокий пешеходный трафик', 'Москва', 42000000),
  ('Срочно нужен юрист', 'Консультация по сделке купли-продажи квартиры, проверка документов', 'Москва', NULL),
  ('Ноутбук для работы', 'Lenovo ThinkPad, 16 ГБ памяти, SSD 512 ГБ, батарея держит 8 часов', 'Самара', 48000),
  ('Two-bedroom flat near the tube', 'Bright 60 m² flat, five minutes walk to the station, newly renovated', 'London', 520000),
  ('Studio apartment downtown', 'Compact furnished studio close to shops and the metro line', 'New York', 2400),
  ('Family house with a garden', 'Four bedrooms, large garden, quiet street, near good schools', 'Austin', 615000),
  ('Office space for rent', 'Open-plan office of 150 m², meeting rooms, parking for visitors', 'Berlin', 4800),
  ('Looking for an apartment', 'Young couple searching for a one-bedroom flat close to public transport', 'Toronto', 2100),
  ('Used Honda Civic 2018', 'Single owner, 70,000 km, full service history, no accidents', 'Manchester', 14500),
  ('Electric scooter for sale', 'Xiaomi scooter, 30 km range, barely used, with charger', 'Amsterdam', 300),
  ('Home renovation services', 'Kitchens, bathrooms and flooring; licensed and insured crew', 'Chicago', NULL),
  ('Office cleaning company', 'Daily and weekly cleaning for offices, eco-friendly products', 'Dublin', NULL),
  ('English tutor online', 'IELTS and TOEFL preparation, conversational practice, flexible hours', 'Online', 35),
  ('Coding classes for kids', 'Scratch and Python courses for children aged 8 to 14', 'Seattle', 150),
  ('Moving company', 'Local moves with a van and two movers, evenings and weekends', 'Denver', 90),
  ('Lakeside cabin', 'Cozy cabin with a sauna on the lake shore, fishing and hiking', 'Ontario', 240000),
  ('Retail unit for a cafe', 'Ground floor corner unit with large windows and heavy foot traffic', 'Paris', 1250000),
  ('Need a real estate lawyer', 'Looking for advice on buying a flat and checking the contract', 'London', NULL),
  ('Laptop for work', 'Dell XPS 13, 16 GB RAM, 512 GB SSD, excellent battery life', 'San Francisco', 900),
  ('Квартира рядом с университетом', 'Однокомнатная квартира для студента, 10 минут до кампуса', 'Томск', 25000),
  ('Apartment close to the university', 'Furnished room for a student, ten minutes walk to campus', 'Boston', 1300)
) AS v(title, description, city, price)
WHERE NOT EXISTS (SELECT 1 FROM leads);
